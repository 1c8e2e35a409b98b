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

/// A started process whose end can be awaited without blocking a thread.
final class RunningCommand: @unchecked Sendable {
    let process = Process()
    private let stdoutPipe = Pipe()
    private let stderrPipe = Pipe()
    private let collected = OutputCollector()
    private var ended: CheckedContinuation<Void, Never>?
    private let lock = NSLock()
    private var hasEnded = false

    init(_ arguments: [String], environment: [String: String] = [:]) throws {
        process.executableURL = URL(fileURLWithPath: Binary.path)
        process.arguments = arguments
        var merged = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("TIKTOK_") }
        merged.merge(environment) { $1 }
        process.environment = merged
        process.standardOutput = stdoutPipe
        process.standardError = stderrPipe
        process.standardInput = FileHandle.nullDevice
        let collected = self.collected
        stdoutPipe.fileHandleForReading.readabilityHandler = { handle in collected.append(handle.availableData, error: false) }
        stderrPipe.fileHandleForReading.readabilityHandler = { handle in collected.append(handle.availableData, error: true) }
        process.terminationHandler = { [weak self] _ in self?.finish() }
        try process.run()
    }

    private func finish() {
        lock.lock()
        hasEnded = true
        let continuation = ended
        ended = nil
        lock.unlock()
        continuation?.resume()
    }

    var pid: Int32 { process.processIdentifier }

    func signal(_ signal: Int32) { kill(process.processIdentifier, signal) }

    /// Waits for the process to end and returns its status and output.
    func wait() async -> CommandResult {
        await withCheckedContinuation { continuation in
            lock.lock()
            if hasEnded {
                lock.unlock()
                continuation.resume()
            } else {
                ended = continuation
                lock.unlock()
            }
        }
        stdoutPipe.fileHandleForReading.readabilityHandler = nil
        stderrPipe.fileHandleForReading.readabilityHandler = nil
        collected.append(stdoutPipe.fileHandleForReading.readDataToEndOfFile(), error: false)
        collected.append(stderrPipe.fileHandleForReading.readDataToEndOfFile(), error: true)
        return CommandResult(status: process.terminationStatus, stdout: collected.stdout, stderr: collected.stderr)
    }

    /// The output so far, while the process runs.
    var outputSoFar: String { collected.stdout + collected.stderr }
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
