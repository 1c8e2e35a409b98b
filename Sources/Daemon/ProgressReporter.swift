import Foundation
import Glibc
import Logging
import Synchronization
import AudienceReading

/// Shows how reading a large file goes: a progress line with rows per second and an ETA on a
/// terminal, a log line every few seconds otherwise.
public final class ProgressReporter: Sendable {
    private struct State {
        var lastLog = Date.distantPast
        var drewLine = false
    }

    private let state = Mutex(State())
    private let logger: Logger
    private let onTerminal: Bool
    private let logEvery: TimeInterval

    public init(logger: Logger, onTerminal: Bool = isatty(STDERR_FILENO) != 0, logEvery: TimeInterval = 5) {
        self.logger = logger
        self.onTerminal = onTerminal
        self.logEvery = logEvery
    }

    public func report(_ progress: ReadProgress) {
        let now = Date()
        let elapsed = progress.elapsedSeconds
        let shouldLog = state.withLock { state -> Bool in
            let due = now.timeIntervalSince(state.lastLog) >= logEvery
            if due || onTerminal { state.lastLog = now }
            state.drewLine = state.drewLine || onTerminal
            return due
        }
        let rate = Double(progress.rows) / max(elapsed, 0.001)
        let remaining = progress.fraction > 0 ? elapsed * (1 - progress.fraction) / progress.fraction : 0
        let text = "\(progress.rows.formatted()) rows, \(Int(rate).formatted()) rows/s, \(Int(progress.fraction * 100))%, ETA \(Int(remaining.rounded())) s"
        if onTerminal {
            let line = "\r\u{1B}[2K\((progress.path as NSString).lastPathComponent): reading \(text)"
            _ = line.withCString { write(STDERR_FILENO, $0, strlen($0)) }
        } else if shouldLog {
            logger.info("reading \(text)", metadata: ["file": "\(progress.path)"])
        }
    }

    /// Ends the progress line so that what follows starts on its own line.
    public func finish() {
        let drew = state.withLock { state -> Bool in
            defer { state.drewLine = false }
            return state.drewLine
        }
        if drew { _ = "\r\u{1B}[2K".withCString { write(STDERR_FILENO, $0, strlen($0)) } }
    }
}
