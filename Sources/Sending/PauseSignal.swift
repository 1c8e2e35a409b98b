import Synchronization
import AudienceModel

/// Set once when sending must stop for every batch.
final class PauseSignal: Sendable {
    private let state = Mutex<SendPause?>(nil)
    private let answered = Atomic<Bool>(false)
    private let shouldStop: @Sendable () -> Bool

    init(shouldStop: @escaping @Sendable () -> Bool) {
        self.shouldStop = shouldStop
    }

    /// Why sending stopped for everything; nil when it did not (or only because of a shutdown).
    var pause: SendPause? { state.withLock { $0 } }

    /// Whether no new request may start: paused, or asked to stop from outside.
    var stopsSending: Bool { pause != nil || shouldStop() }

    func set(_ pause: SendPause) { state.withLock { if $0 == nil { $0 = pause } } }

    /// Whether TikTok answered any request of this pass (whatever it said).
    var anyAnswer: Bool { answered.load(ordering: .relaxed) }
    func noteAnswer() { answered.store(true, ordering: .relaxed) }
}
