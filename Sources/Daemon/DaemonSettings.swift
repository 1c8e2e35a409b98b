import Synchronization
import AudienceConfig

/// The configuration in force, replaced as a whole on SIGHUP.
public final class DaemonSettings: Sendable {
    private let configuration: Mutex<Configuration>

    public init(_ configuration: Configuration) {
        self.configuration = Mutex(configuration)
    }

    public var current: Configuration { configuration.withLock { $0 } }

    /// Takes `next`, except the inbox, the state directory and the metrics address, which need a
    /// restart. Returns what was kept.
    public func replace(with next: Configuration) -> [String] {
        configuration.withLock { current in
            var kept: [String] = []
            var next = next
            if next.inbox != current.inbox {
                kept.append("inbox")
                next.inbox = current.inbox
            }
            if next.stateDirectory != current.stateDirectory {
                kept.append("state_directory")
                next.stateDirectory = current.stateDirectory
            }
            if next.metricsListen != current.metricsListen {
                kept.append("metrics.listen")
                next.metricsListen = current.metricsListen
            }
            current = next
            return kept
        }
    }
}

/// What `systemctl status` shows: the intake's and the sender's part, sent when it changes.
public final class DaemonStatus: Sendable {
    private struct Parts: Equatable {
        /// Set while a reload was refused: the operator must know the file on disk is not in force.
        var configuration = ""
        var intake = ""
        var sender = "idle, 0 pending"
    }

    private let parts = Mutex(Parts())
    private let notifier: SystemdNotifier

    public init(notifier: SystemdNotifier) {
        self.notifier = notifier
    }

    public func configuration(_ text: String) { update { $0.configuration = text } }
    /// The intake's part alone: what the last look at the inbox found.
    public var intakeLine: String { parts.withLock { $0.intake } }
    public func intake(_ text: String) { update { $0.intake = text } }
    public func sender(_ text: String) { update { $0.sender = text } }

    /// One line: systemd shows STATUS= as it is, and a newline (from an SQL error, say) would cut it.
    public var line: String {
        let text = parts.withLock { parts in
            [parts.configuration, parts.intake, parts.sender].filter { !$0.isEmpty }.joined(separator: "; ")
        }
        let flat = String(text.map { $0.isNewline || $0 == "\t" ? " " : $0 })
        return flat.count > 400 ? String(flat.prefix(399)) + "…" : flat
    }

    private func update(_ change: (inout Parts) -> Void) {
        let changed = parts.withLock { parts -> Bool in
            let before = parts
            change(&parts)
            return parts != before
        }
        if changed { notifier.status(line) }
    }
}
