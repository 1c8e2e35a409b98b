import ServiceLifecycle
import Synchronization
import UnixSignals

/// SIGTERM and SIGINT, trapped from a command's first moment: one that arrives while the
/// configuration is read or the ledger opened (a migration can take minutes) stops the pipeline
/// as soon as it starts, gracefully, instead of killing the process.
enum StopSignals {
    /// Trapped as the process starts (before the arguments are parsed), so that a stop that comes
    /// while the process is still starting is kept for the command instead of killing it.
    private static let early = Mutex<UnixSignalsSequence?>(nil)
    /// SIGHUP for `run`, trapped as early: a reload asked for during a long start (a migration)
    /// waits for the daemon instead of ending it.
    private static let earlyHangups = Mutex<UnixSignalsSequence?>(nil)

    static func trapAtStart(hangups: Bool) async {
        let signals = await UnixSignalsSequence(trapping: .sigterm, .sigint)
        early.withLock { $0 = signals }
        if hangups {
            let hangups = await UnixSignalsSequence(trapping: .sighup)
            earlyHangups.withLock { $0 = hangups }
        }
    }

    /// A sequence trapped at start, for its one reader.
    private static func take(_ box: borrowing Mutex<UnixSignalsSequence?>) -> UnixSignalsSequence? {
        box.withLock { trapped in
            defer { trapped = nil }
            return trapped
        }
    }

    /// The SIGHUP sequence trapped at start, or a new one.
    static func hangups() async -> UnixSignalsSequence {
        if let trapped = take(earlyHangups) { return trapped }
        return await UnixSignalsSequence(trapping: .sighup)
    }

    /// Runs `body` with the signals trapped; `body` runs its service group through the relay.
    static func trapping(_ body: @Sendable (Relay) async throws -> Void) async throws {
        let trapped = take(early)
        let signals: UnixSignalsSequence
        if let trapped { signals = trapped } else { signals = await UnixSignalsSequence(trapping: .sigterm, .sigint) }
        let relay = Relay()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for await _ in signals { await relay.stop() }
            }
            defer { group.cancelAll() }
            try await body(relay)
        }
    }

    /// Passes a stop on to the service group, or keeps it until the group exists.
    final class Relay: Sendable {
        private let state = Mutex<(stopped: Bool, group: ServiceGroup?)>((false, nil))

        /// Whether a stop was asked for.
        var isStopped: Bool { state.withLock { $0.stopped } }

        func stop() async {
            let group = state.withLock { state -> ServiceGroup? in
                state.stopped = true
                return state.group
            }
            await group?.triggerGracefulShutdown()
        }

        /// Runs `group`, shutting it down gracefully at once if a stop came before it existed.
        func run(_ group: ServiceGroup) async throws {
            let stopped = state.withLock { state -> Bool in
                state.group = group
                return state.stopped
            }
            if stopped { await group.triggerGracefulShutdown() }
            try await group.run()
        }
    }
}
