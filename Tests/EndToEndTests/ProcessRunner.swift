import Foundation
import Testing

/// Runs the built `tiktok-audience-sync` executable and collects what it printed.
struct CommandResult {
    var status: Int32
    var stdout: String
    var stderr: String
    var output: String { stdout + stderr }
}

enum Binary {
    /// The executable next to the test bundle (`swift build --build-tests` builds both).
    static var path: String {
        if let explicit = ProcessInfo.processInfo.environment["TIKTOK_AUDIENCE_SYNC_BINARY"] { return explicit }
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = directory.appendingPathComponent("tiktok-audience-sync").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return root.appendingPathComponent(".build/debug/tiktok-audience-sync").path
    }
}

/// A started process (any executable) whose end can be awaited without blocking a thread; its
/// standard input is /dev/null, or a pipe kept open until `closeInput()`.
///
/// Its output is read by a thread per pipe with plain blocking reads, not with Foundation's
/// `readabilityHandler`: those are dispatch read sources, and libdispatch on Linux can crash in
/// its event loop when many of them come and go while processes start and end in parallel.
final class ToolProcess: @unchecked Sendable {
    let process = Process()
    private let stdoutPipe = Pipe()
    private let stderrPipe = Pipe()
    private let stdinPipe: Pipe?
    private let collected = OutputCollector()
    private let lock = NSLock()
    private var ended: CheckedContinuation<Void, Never>?
    private var hasEnded = false
    /// The process's end and both pipes' ends: `wait()` returns once all three have come.
    private var endsToCome = 3

    init(_ executable: String, _ arguments: [String], environment: [String: String] = [:], keepInputOpen: Bool = false) throws {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var merged = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("TIKTOK_") && $0.key != "SSH_AUTH_SOCK" }
        merged.merge(environment) { $1 }
        process.environment = merged
        process.standardOutput = stdoutPipe
        process.standardError = stderrPipe
        stdinPipe = keepInputOpen ? Pipe() : nil
        process.standardInput = stdinPipe ?? FileHandle.nullDevice
        process.terminationHandler = { [weak self] _ in self?.end(process: true) }
        try process.run()
        for (pipe, error) in [(stdoutPipe, false), (stderrPipe, true)] {
            let collected = self.collected
            Thread { [weak self] in
                let handle = pipe.fileHandleForReading
                while true {
                    let data = handle.availableData
                    if data.isEmpty { break }
                    collected.append(data, error: error)
                }
                self?.end(process: false)
            }.start()
        }
    }

    private func end(process: Bool) {
        lock.lock()
        if process { hasEnded = true }
        endsToCome -= 1
        let continuation = endsToCome == 0 ? ended : nil
        if endsToCome == 0 { ended = nil }
        lock.unlock()
        continuation?.resume()
    }

    var isRunning: Bool {
        lock.lock()
        defer { lock.unlock() }
        return !hasEnded
    }

    func signal(_ signal: Int32) {
        if isRunning { kill(process.processIdentifier, signal) }
    }

    var pid: Int32 { process.processIdentifier }

    func closeInput() { try? stdinPipe?.fileHandleForWriting.close() }

    var outputSoFar: String { collected.stdout + collected.stderr }

    func wait() async -> CommandResult {
        await withCheckedContinuation { continuation in
            lock.lock()
            if endsToCome == 0 {
                lock.unlock()
                continuation.resume()
            } else {
                ended = continuation
                lock.unlock()
            }
        }
        return CommandResult(status: process.terminationStatus, stdout: collected.stdout, stderr: collected.stderr)
    }

    /// Waits at most `timeout`, then sends SIGTERM, and SIGKILL five seconds later.
    func wait(timeout: Duration) async -> CommandResult {
        let watchdog = Task { [self] in
            try await Task.sleep(for: timeout)
            signal(SIGTERM)
            try await Task.sleep(for: .seconds(5))
            signal(SIGKILL)
        }
        defer { watchdog.cancel() }
        return await wait()
    }
}

/// A running `tiktok-audience-sync` (the built executable).
typealias RunningCommand = ToolProcess

extension ToolProcess {
    convenience init(_ arguments: [String], environment: [String: String] = [:]) throws {
        try self.init(Binary.path, arguments, environment: environment)
    }
}

final class OutputCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var out = Data()
    private var err = Data()
    func append(_ data: Data, error: Bool) {
        lock.lock()
        if error { err.append(data) } else { out.append(data) }
        lock.unlock()
    }
    var stdout: String { lock.lock(); defer { lock.unlock() }; return String(decoding: out, as: UTF8.self) }
    var stderr: String { lock.lock(); defer { lock.unlock() }; return String(decoding: err, as: UTF8.self) }
}

func runCommand(_ arguments: [String], environment: [String: String] = [:]) async throws -> CommandResult {
    try await RunningCommand(arguments, environment: environment).wait()
}

