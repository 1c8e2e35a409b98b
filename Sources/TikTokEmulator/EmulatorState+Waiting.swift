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

    /// Wakes the waiters whose condition now holds.
    func stateChanged() {
        guard !self.waiters.isEmpty else { return }
        for (id, waiter) in self.waiters where waiter.condition(self) {
            self.waiters[id] = nil
            waiter.continuation.resume(returning: true)
        }
    }

    private func expireWaiter(_ id: UInt64) {
        guard let waiter = self.waiters.removeValue(forKey: id) else { return }
        waiter.continuation.resume(returning: waiter.condition(self))
    }
}
