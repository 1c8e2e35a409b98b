import Foundation
import Glibc

/// A NOTIFY_SOCKET for the daemon under test: a Unix datagram socket whose messages
/// (READY=1, STATUS=…, WATCHDOG=1) are collected as systemd would receive them.
final class NotifyListener: @unchecked Sendable {
    let path: String
    private let descriptor: Int32
    private let lock = NSLock()
    private var received: [String] = []
    private var receivedAt: [ContinuousClock.Instant] = []
    private var waiters: [UUID: (condition: @Sendable ([String]) -> Bool, continuation: CheckedContinuation<Bool, Never>)] = [:]
    private var thread: Thread?

    init(directory: String) throws {
        path = directory + "/notify.sock"
        descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in path.utf8.prefix(raw.count - 1).enumerated() { raw[index] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0 else { throw CocoaError(.fileWriteUnknown) }
        var timeout = timeval(tv_sec: 0, tv_usec: 100_000)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let thread = Thread { [weak self] in
            var buffer = [UInt8](repeating: 0, count: 4096)
            while let self, !Thread.current.isCancelled {
                let count = recv(self.descriptor, &buffer, buffer.count, 0)
                if count > 0 {
                    let message = String(decoding: buffer[..<count], as: UTF8.self)
                    let lines = message.split(separator: "\n").map(String.init)
                    let now = ContinuousClock.now
                    self.lock.lock()
                    self.received.append(contentsOf: lines)
                    self.receivedAt.append(contentsOf: lines.map { _ in now })
                    let all = self.received
                    let woken = self.waiters.filter { $0.value.condition(all) }
                    for id in woken.keys { self.waiters[id] = nil }
                    self.lock.unlock()
                    for waiter in woken.values { waiter.continuation.resume(returning: true) }
                }
            }
        }
        self.thread = thread
        thread.start()
    }

    deinit {
        thread?.cancel()
        close(descriptor)
        unlink(path)
    }

    var messages: [String] {
        lock.lock()
        defer { lock.unlock() }
        return received
    }

    /// The longest wait between two consecutive `message`s, and from the last one until now.
    func longestSilence(between message: String) -> Duration {
        lock.lock()
        defer { lock.unlock() }
        let times = zip(received, receivedAt).filter { $0.0 == message }.map(\.1)
        guard let last = times.last else { return .zero }
        let gaps = zip(times, times.dropFirst()).map { $1 - $0 }
        return max(gaps.max() ?? .zero, ContinuousClock.now - last)
    }

    func stop() { thread?.cancel() }

    /// Waits until the messages received so far satisfy `condition`, looked at again as each one
    /// comes (no polling); false when `timeout` passes first.
    func waitFor(timeout: Duration = .seconds(20), _ condition: @escaping @Sendable ([String]) -> Bool) async -> Bool {
        let id = UUID()
        return await withCheckedContinuation { continuation in
            lock.lock()
            if condition(received) {
                lock.unlock()
                continuation.resume(returning: true)
                return
            }
            waiters[id] = (condition, continuation)
            lock.unlock()
            Task { [weak self] in
                try? await Task.sleep(for: timeout)
                self?.expire(id)
            }
        }
    }

    private func expire(_ id: UUID) {
        lock.lock()
        let waiter = waiters.removeValue(forKey: id)
        let satisfied = waiter.map { $0.condition(received) } ?? false
        lock.unlock()
        waiter?.continuation.resume(returning: satisfied)
    }
}

/// Waits until `condition` holds, checking every 50 ms, for at most `timeout`.
func eventually(timeout: Duration = .seconds(20), _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(50))
    }
    return try await condition()
}
