/// A test's condition on the state and the task waiting for it to hold.
struct StateWaiter {
    let condition: @Sendable (isolated EmulatorState) -> Bool
    let continuation: CheckedContinuation<Bool, Never>
}

extension EmulatorState {
    /// Waits until `condition` holds, looked at again after every request and every landing
    /// (no polling); false when `timeout` passes first. For tests: "until TikTok holds these
    /// members", "until the third request came".
    public func waitUntil(
        timeout: Duration = .seconds(20), _ condition: @escaping @Sendable (isolated EmulatorState) -> Bool
    ) async -> Bool {
        if condition(self) { return true }
        self.nextWaiterID += 1
        let id = self.nextWaiterID
        return await withCheckedContinuation { continuation in
            self.waiters[id] = StateWaiter(condition: condition, continuation: continuation)
            Task { [weak self] in
                try? await Task.sleep(for: timeout)
                await self?.expireWaiter(id)
            }
        }
    }

    /// Wakes the waiters whose condition now holds. A condition may land late requests (an
    /// inspection does), which changes the state again: that call only notes it, this loop looks
    /// at every waiter once more, and takes each out before resuming it, so none is resumed twice.
    func stateChanged() {
        guard !self.waiters.isEmpty else { return }
        guard !self.checkingWaiters else {
            self.changedWhileChecking = true
            return
        }
        self.checkingWaiters = true
        defer { self.checkingWaiters = false }
        repeat {
            self.changedWhileChecking = false
            for id in Array(self.waiters.keys) {
                guard let waiter = self.waiters[id], waiter.condition(self),
                    let woken = self.waiters.removeValue(forKey: id)
                else { continue }
                woken.continuation.resume(returning: true)
            }
        } while self.changedWhileChecking && !self.waiters.isEmpty
    }

    private func expireWaiter(_ id: UInt64) {
        guard let waiter = self.waiters.removeValue(forKey: id) else { return }
        waiter.continuation.resume(returning: waiter.condition(self))
    }
}
