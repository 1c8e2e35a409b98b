import Synchronization
import AudienceConfig

/// The configuration in force, replaced as a whole on SIGHUP; and a one-way stop flag.
public final class DaemonSettings: Sendable {
    private let configuration: Mutex<Configuration>

    public init(_ configuration: Configuration) {
        self.configuration = Mutex(configuration)
    }

    public var current: Configuration { configuration.withLock { $0 } }

    /// Takes `next`, except the inbox and state directory, which need a restart. Returns what was kept.
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
            current = next
            return kept
        }
    }
}

public final class StopFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    public init() {}
    public var isSet: Bool { flag.load(ordering: .acquiring) }
    public func set() { flag.store(true, ordering: .releasing) }
}

/// What `systemctl status` shows: the intake's and the sender's part, sent when it changes.
public final class DaemonStatus: Sendable {
    private struct Parts: Equatable {
        var intake = ""
        var sender = "idle, 0 pending"
    }

    private let parts = Mutex(Parts())
    private let notifier: SystemdNotifier

    public init(notifier: SystemdNotifier) {
        self.notifier = notifier
    }

    public func intake(_ text: String) { update { $0.intake = text } }
    public func sender(_ text: String) { update { $0.sender = text } }

    public var line: String {
        parts.withLock { parts in
            parts.intake.isEmpty ? parts.sender : parts.intake + "; " + parts.sender
        }
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
