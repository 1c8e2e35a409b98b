import Foundation
import Testing
import TestFixtures
import TikTokEmulator

/// The randomized model test: random histories of deltas and snapshots (re-sent bytes included,
/// some dropped while a process sends), runs of `once` and of the daemon under TikTok faults
/// (lost answers, 50002, 40100, 503, requests applied after the client gave up or long after
/// their answer), SIGKILL and SIGTERM at random moments and SIGKILL at marked points inside the
/// code, then clean runs of `once` until nothing is left, as cron would run it. Then TikTok's
/// membership must equal the oracle's, every file must have exactly one receipt, and `status`
/// must say so.
///
/// Each history prints its seed when it fails; `MODEL_TEST_SEED=N` replays one history,
/// `MODEL_TEST_HISTORIES=N` runs N (CI runs 12), and `scripts/model-test` runs them for as long as asked.
/// `MODEL_TEST_CONCURRENCY=N` runs N at a time (4).
@Suite("model: random histories of files, faults and kills end exactly as the files say", .serialized)
struct ModelTests {
    @Test("random histories end with TikTok holding what the files say, a receipt per file, and status agreeing")
    func randomHistories() async throws {
        let environment = ProcessInfo.processInfo.environment
        let seeds: [UInt64]
        if let seed = environment["MODEL_TEST_SEED"].flatMap(UInt64.init) {
            seeds = [seed]
        } else {
            let count = environment["MODEL_TEST_HISTORIES"].flatMap(Int.init) ?? 12
            let base = environment["MODEL_TEST_BASE_SEED"].flatMap(UInt64.init) ?? UInt64.random(in: 1...(UInt64.max / 2))
            seeds = (0..<UInt64(count)).map { base + $0 }
        }
        // Four histories at a time (MODEL_TEST_CONCURRENCY): each has its own emulator and state
        // directory, and a history mostly waits (answer times, timeouts, resends, kills), so more
        // at once shortens the run without crowding the two cores.
        let concurrency = max(1, environment["MODEL_TEST_CONCURRENCY"].flatMap(Int.init) ?? 4)
        try await withThrowingTaskGroup(of: Void.self) { group in
            var running = 0
            for seed in seeds {
                if running == concurrency {
                    try await group.next()
                    running -= 1
                }
                group.addTask { try await Self.run(ModelHistory(seed: seed)) }
                running += 1
            }
            try await group.waitForAll()
        }
    }

    static let token = ["TIKTOK_ACCESS_TOKEN": "emulator-token"]

    static func run(_ history: ModelHistory) async throws {
        var configuration = EmulatorConfiguration()
        configuration.audienceIDs = ModelHistory.segments
        // Every answer takes a moment, so that kills land with requests in flight.
        configuration.latency = .milliseconds(history.sending.latencyMilliseconds)
        // A wrong member is explained by every request that changed it.
        configuration.traceMembers = true
        try await TikTokEmulator.withRunning(configuration) { emulator in
            let workspace = try Workspace(
                emulator: emulator, extraYAML: "max_snapshot_removal_percent: 100\nidentifiers:\n  maid_type: idfa",
                tiktokYAML: """
                      max_in_flight: \(history.sending.maxInFlight)
                      max_users_per_request: \(history.sending.usersPerRequest)
                      max_attempts: 3
                      request_timeout_seconds: 1
                      resend_unanswered_after_seconds: 2
                    """)
            var log: [String] = [
                "seed \(history.seed) (replay: MODEL_TEST_SEED=\(history.seed)): \(history.poolSize) members, \(history.sending)"
            ]
            let arrivals = Arrivals(workspace)
            let began = ContinuousClock.now
            for step in history.steps {
                log.append("at \(Self.seconds(ContinuousClock.now - began)): \(step.description)")
                switch step {
                case .drop(let file):
                    try arrivals.drop(file)
                case .once(let faults, let stop, let during):
                    await emulator.state.clearFaults()
                    await emulator.state.enqueue(faults.map(\.emulatorFault))
                    let process = try RunningCommand(["once", "--config", workspace.configPath], environment: token.merging(stop.environment) { $1 })
                    let result = try await drive(process, stop: stop, during: during, arrivals: arrivals, isDaemon: false)
                    log.append("  → exit \(result.status)")
                    switch stop {
                    case .none:
                        #expect([0, 75].contains(result.status), "\(log.joined(separator: "\n"))\n\(result.output)")
                    case .sigterm(let ms) where ms >= 100:
                        // A graceful stop never loses what it was doing: it ends 0, or 75 with work left.
                        // (Earlier, the signal may come before the process has set up its handler.)
                        #expect([0, 75].contains(result.status), "\(log.joined(separator: "\n"))\n\(result.output)")
                    default:
                        break
                    }
                case .run(let faults, let stop, let during):
                    await emulator.state.clearFaults()
                    await emulator.state.enqueue(faults.map(\.emulatorFault))
                    let daemon = try RunningCommand(["run", "--config", workspace.configPath], environment: token.merging(stop.environment) { $1 })
                    let result = try await drive(daemon, stop: stop, during: during, arrivals: arrivals, isDaemon: true)
                    log.append("  → exit \(result.status)")
                    if result.status != SIGKILL + 128, result.status != SIGKILL {
                        #expect(result.status == 0, "a daemon stopped by SIGTERM ends 0\n\(log.joined(separator: "\n"))\n\(result.output)")
                    }
                }
            }
            // Clean runs until nothing is left: what a cron job sees over its next runs.
            await emulator.state.clearFaults()
            var final = try await runCommand(["once", "--config", workspace.configPath], environment: token)
            for _ in 0..<8 where final.status == 75 {
                try await Task.sleep(for: .milliseconds(2_300))
                final = try await runCommand(["once", "--config", workspace.configPath], environment: token)
            }
            log.append("final once → exit \(final.status), at \(Self.seconds(ContinuousClock.now - began))")
            if ProcessInfo.processInfo.environment["MODEL_TEST_KEEP"] != nil {
                workspace.keep = true
                log.append("kept: \(workspace.root)")
            }
            let story = log.joined(separator: "\n")
            #expect(final.status == 0, "\(story)\n\(final.output)")
            // Late landings that may still be due would show up here.
            try await Task.sleep(for: .milliseconds(1_600))
            try await checkMembership(emulator, history, story, began: began)
            try checkReceipts(workspace, history, story)
            try await checkStatus(workspace, story)
        }
    }

    /// Starts the drops and the stop of one process at their moments, then waits for its end. A
    /// daemon not stopped otherwise gets SIGTERM a while after the last drop.
    static func drive(
        _ process: RunningCommand, stop: ModelHistory.Stop, during: [ModelHistory.Drop], arrivals: Arrivals, isDaemon: Bool
    ) async throws -> CommandResult {
        let start = ContinuousClock.now
        var signalAt: (Int, Int32)?
        switch stop {
        case .sigkill(let ms): signalAt = (ms, SIGKILL)
        case .sigterm(let ms): signalAt = (ms, SIGTERM)
        case .none, .killAt: break
        }
        for drop in during {
            if let (ms, signal) = signalAt, ms <= drop.afterMilliseconds {
                try await Task.sleep(until: start + .milliseconds(ms))
                process.signal(signal)
                signalAt = nil
            }
            try await Task.sleep(until: start + .milliseconds(drop.afterMilliseconds))
            try arrivals.drop(drop.file)
        }
        if let (ms, signal) = signalAt {
            try await Task.sleep(until: start + .milliseconds(ms))
            process.signal(signal)
        }
        if isDaemon, case .none = stop {
            try await Task.sleep(for: .milliseconds(1_500))
            process.signal(SIGTERM)
        } else if isDaemon, case .killAt = stop {
            try await Task.sleep(for: .milliseconds(2_500))
            process.signal(SIGTERM)
        }
        return await process.wait(timeout: .seconds(60))
    }

    static func checkMembership(
        _ emulator: RunningEmulator, _ history: ModelHistory, _ story: String, began: ContinuousClock.Instant
    ) async throws {
        let expected = history.oracle
        for segment in ModelHistory.segments {
            let held = await emulator.state.members(of: segment)
            let wanted = expected[segment] ?? []
            if held != wanted {
                let extra = held.subtracting(wanted).sorted().prefix(10).map { "\($0.idType) \($0.id.prefix(8))" }
                let missing = wanted.subtracting(held).sorted().prefix(10).map { "\($0.idType) \($0.id.prefix(8))" }
                // The first few wrong members, file by file and request by request.
                var explained: [String] = []
                for member in (held.subtracting(wanted).sorted() + wanted.subtracting(held).sorted()).prefix(3) {
                    explained.append("\(member.idType) \(member.id.prefix(8)) in \(segment):")
                    explained += history.mentions(of: member, in: segment).map { "  file \($0)" }
                    explained += await emulator.state.trace(of: member).filter { $0.audienceID == segment }.map {
                        "  at \(seconds($0.at - began)): \($0)"
                    }
                }
                Issue.record(
                    """
                    segment \(segment): TikTok holds \(held.count), the files say \(wanted.count); \
                    \(held.subtracting(wanted).count) extra \(extra), \(wanted.subtracting(held).count) missing \(missing)
                    \(story)
                    \(explained.joined(separator: "\n"))
                    """)
            }
        }
    }

    /// A moment of a history, as seconds since it began.
    static func seconds(_ duration: Duration) -> String {
        let milliseconds = duration.components.seconds * 1_000 + duration.components.attoseconds / 1_000_000_000_000_000
        return String(format: "%.3f s", Double(milliseconds) / 1_000)
    }

    /// Every file has exactly one receipt, whatever the moments the processes were killed at,
    /// and none is left in the inbox.
    static func checkReceipts(_ workspace: Workspace, _ history: ModelHistory, _ story: String) throws {
        var receipts: [String: Int] = [:]
        for path in workspace.receiptFiles() {
            let data = try Data(contentsOf: URL(fileURLWithPath: workspace.state + "/receipts/" + path))
            let receipt = try JSONSerialization.jsonObject(with: data) as? [String: Any]
            receipts[receipt?["file"] as? String ?? path, default: 0] += 1
        }
        let names = Set(history.files.map(\.name))
        let wrong = receipts.filter { names.contains($0.key) && $0.value != 1 || !names.contains($0.key) }
        let missing = names.filter { receipts[$0] == nil }
        #expect(wrong.isEmpty && missing.isEmpty, "receipts: \(wrong) more or fewer than one, none for \(missing.sorted())\n\(story)")
        #expect(workspace.files(under: "inbox").isEmpty, "left in the inbox: \(workspace.files(under: "inbox"))\n\(story)")
    }

    /// `status` says what TikTok holds: nothing pending, nothing waiting for a resend, healthy.
    static func checkStatus(_ workspace: Workspace, _ story: String) async throws {
        let result = try await runCommand(["status", "--config", workspace.configPath, "--json"])
        let document = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        let pending = document?["pending"] as? [String: Any]
        let unanswered = document?["unanswered"] as? [String: Any]
        #expect(result.status == 0 && document?["health"] as? String == "ok", "\(story)\n\(result.output)")
        #expect(pending?["adds"] as? Int == 0 && pending?["removes"] as? Int == 0, "\(story)\n\(result.output)")
        #expect(unanswered?["members"] as? Int == 0, "\(story)\n\(result.output)")
    }
}

/// Drops a history's files in arrival order, as a partner should: under a temporary name, then
/// renamed into place; each a second after the one before by its modification time.
final class Arrivals: @unchecked Sendable {
    private let workspace: Workspace
    private var arrival = Date().addingTimeInterval(-3_600)
    private let lock = NSLock()

    init(_ workspace: Workspace) { self.workspace = workspace }

    func drop(_ file: ModelHistory.AudienceFile) throws {
        lock.lock()
        defer { lock.unlock() }
        arrival = arrival.addingTimeInterval(1)
        let temporary = try workspace.drop("." + file.name + ".part", file.text, modified: arrival)
        guard rename(temporary, workspace.inbox + "/" + file.name) == 0 else { throw CocoaError(.fileWriteUnknown) }
    }
}

extension ModelHistory.Stop {
    /// The kill point a process is started with.
    var environment: [String: String] {
        if case .killAt(let point, let passes) = self { return ["TIKTOK_AUDIENCE_SYNC_KILL_AT": "\(point):\(passes)"] }
        return [:]
    }
}
