import Synchronization

/// Wakes one waiting loop: rings are remembered until the next wait, so none is lost, and
/// several rings while nobody waits count as one. One waiter at a time: a second wait that
/// begins while one is waiting ends the first as if its time had run out.
public final class Doorbell: Sendable {
    private struct State {
        var rung = false
        var waiter: (id: UInt64, continuation: CheckedContinuation<Bool, Never>)?
        var nextID: UInt64 = 0
    }

    private let state = Mutex(State())

    public init() {}

    public func ring() {
        let waiter = state.withLock { state -> CheckedContinuation<Bool, Never>? in
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter.continuation
            }
            state.rung = true
            return nil
        }
        waiter?.resume(returning: true)
    }

    /// Returns when rung (now or since the last wait), after `timeout`, or when the task is
    /// cancelled; true when it was rung. A ring that comes as the time runs out is never lost: it
    /// is either reported here or kept for the next wait.
    @discardableResult
    public func wait(timeout: Duration) async -> Bool {
        await withTaskGroup(of: Bool.self) { group in
            group.addTask { await self.waitForRing() }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return false
            }
            var rung = await group.next() ?? false
            group.cancelAll()
            for await other in group { rung = rung || other }
            return rung
        }
    }

    /// True when rung; false when the task was cancelled first.
    private func waitForRing() async -> Bool {
        let id = state.withLock { state in
            state.nextID += 1
            return state.nextID
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                var replaced: CheckedContinuation<Bool, Never>?
                let answer = state.withLock { state -> Bool? in
                    if state.rung {
                        state.rung = false
                        return true
                    }
                    if Task.isCancelled { return false }
                    replaced = state.waiter?.continuation
                    state.waiter = (id, continuation)
                    return nil
                }
                replaced?.resume(returning: false)
                if let answer { continuation.resume(returning: answer) }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<Bool, Never>? in
                guard let waiter = state.waiter, waiter.id == id else { return nil }
                state.waiter = nil
                return waiter.continuation
            }
            waiter?.resume(returning: false)
        }
    }
}

/// A one-way event many tasks can wait for: set once, it stays set (a stop, a pause).
public final class Latch: Sendable {
    private struct State {
        var isSet = false
        var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
        var nextID: UInt64 = 0
    }

    private let state = Mutex(State())

    public init() {}

    public var isSet: Bool { state.withLock { $0.isSet } }

    public func set() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.isSet = true
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Sleeps for `duration`, or less when the latch is set (or the task cancelled) meanwhile;
    /// true when the whole time passed with the latch still open.
    public func sleep(for duration: Duration) async -> Bool {
        guard !isSet else { return false }
        if duration <= .zero { return !Task.isCancelled }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.waitUntilSet() }
            group.addTask { try? await Task.sleep(for: duration) }
            await group.next()
            group.cancelAll()
        }
        return !isSet && !Task.isCancelled
    }

    /// Returns when the latch is set, or when the task is cancelled.
    public func waitUntilSet() async {
        let id = state.withLock { state in
            state.nextID += 1
            return state.nextID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let now = state.withLock { state -> Bool in
                    if state.isSet || Task.isCancelled { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
            waiter?.resume()
        }
    }
}
