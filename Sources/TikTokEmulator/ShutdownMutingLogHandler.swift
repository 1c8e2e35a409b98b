import Logging
import Synchronization

/// The emulator's log handler: standard error at `warning`, silent once shutdown has begun.
///
/// ``TikTokEmulator/withRunning(_:_:)`` stops the server by cancelling it, and Hummingbird reports
/// a cancelled accept loop as an error ("Waiting on child channel: CancellationError()"). That is
/// expected there, so the handler is muted first. The emulator itself never logs tokens or members.
struct ShutdownMutingLogHandler: LogHandler {
    /// Shared by every copy of the handler; flipped once, when shutdown starts.
    final class Switch: Sendable {
        private let muted = Mutex(false)

        var isMuted: Bool { self.muted.withLock { $0 } }

        func mute() {
            self.muted.withLock { $0 = true }
        }
    }

    private var inner: any LogHandler
    private let shutdown: Switch

    init(label: String, level: Logger.Level, shutdown: Switch) {
        var inner = StreamLogHandler.standardError(label: label)
        inner.logLevel = level
        self.inner = inner
        self.shutdown = shutdown
    }

    var metadataProvider: Logger.MetadataProvider? {
        get { self.inner.metadataProvider }
        set { self.inner.metadataProvider = newValue }
    }

    var metadata: Logger.Metadata {
        get { self.inner.metadata }
        set { self.inner.metadata = newValue }
    }

    var logLevel: Logger.Level {
        get { self.shutdown.isMuted ? .critical : self.inner.logLevel }
        set { self.inner.logLevel = newValue }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { self.inner[metadataKey: key] }
        set { self.inner[metadataKey: key] = newValue }
    }

    func log(event: LogEvent) {
        guard !self.shutdown.isMuted else { return }
        self.inner.log(event: event)
    }
}
