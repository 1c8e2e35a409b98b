import Synchronization
import AudienceModel
import AudienceSupport

/// What stops a pass from sending anything new: a pause (TikTok refused the token, cannot be
/// reached…) or a graceful shutdown. Either wakes every batch waiting for its next try at once.
final class PauseSignal: Sendable {
    private let reason = Mutex<SendPause?>(nil)
    private let stopped = Latch()
    private let answered = Atomic<Bool>(false)

    init() {}

    /// Why sending stopped for everything; nil when it did not (or only because of a shutdown).
    var pause: SendPause? { reason.withLock { $0 } }

    /// Whether no new request may start: paused, or shutting down.
    var stopsSending: Bool { stopped.isSet }

    func set(_ pause: SendPause) {
        reason.withLock { if $0 == nil { $0 = pause } }
        stopped.set()
    }

    /// A graceful shutdown: requests in flight finish and record their answers; nothing new starts.
    func shutDown() { stopped.set() }

    /// Waits `delay` (a back-off, a slot of the rate limit); false, at once, when sending stops
    /// meanwhile or the task is cancelled.
    func sleep(_ delay: Duration) async -> Bool { await stopped.sleep(for: delay) }

    /// Whether TikTok answered any request of this pass (whatever it said).
    var anyAnswer: Bool { answered.load(ordering: .relaxed) }
    func noteAnswer() { answered.store(true, ordering: .relaxed) }
}
