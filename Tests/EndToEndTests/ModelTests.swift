import Foundation
import Testing
import TestFixtures
import TikTokEmulator

/// The randomized model test: random histories of deltas and snapshots (re-sent bytes included),
/// `once` runs under TikTok faults (lost answers, 50002, 40100, 503, requests applied after the
/// client gave up or long after their answer), SIGKILL and SIGTERM at random moments, then clean
/// runs until nothing is left. TikTok's final membership must equal the oracle's.
///
/// Each history prints its seed when it fails; `MODEL_TEST_SEED=N` replays one history,
/// `MODEL_TEST_HISTORIES=N` runs N (CI runs 16), and `scripts/model-test` runs them for as long as asked.
/// `MODEL_TEST_CONCURRENCY=N` runs N at a time (4).
@Suite("model: random histories of files, faults and kills end exactly as the files say", .serialized)
struct ModelTests {
    @Test("random histories end with TikTok holding what the files say")
    func randomHistories() async throws {
        let environment = ProcessInfo.processInfo.environment
        let seeds: [UInt64]
        if let seed = environment["MODEL_TEST_SEED"].flatMap(UInt64.init) {
            seeds = [seed]
        } else {
            let count = environment["MODEL_TEST_HISTORIES"].flatMap(Int.init) ?? 16
            let base = environment["MODEL_TEST_BASE_SEED"].flatMap(UInt64.init) ?? UInt64.random(in: 1...(UInt64.max / 2))
            seeds = (0..<UInt64(count)).map { base + $0 }
        }
        // Four histories at a time (MODEL_TEST_CONCURRENCY): each has its own emulator and state
        // directory, and a history mostly waits (timeouts, rechecks, kills), so more at once
        // shortens the run without crowding the two cores.
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

    static func run(_ history: ModelHistory) async throws {
        var configuration = EmulatorConfiguration()
        configuration.audienceIDs = ModelHistory.segments
        // Every answer takes a moment, so that kills land with requests in flight.
        configuration.latency = .milliseconds(60)
        try await TikTokEmulator.withRunning(configuration) { emulator in
            let workspace = try Workspace(
                emulator: emulator, extraYAML: "max_snapshot_removal_percent: 100",
                tiktokYAML: """
                      max_in_flight: 2
                      max_attempts: 3
                      request_timeout_seconds: 2
                      resend_unanswered_after_seconds: 4
                    """)
            var log: [String] = ["seed \(history.seed) (replay: MODEL_TEST_SEED=\(history.seed))"]
            var arrival = Date().addingTimeInterval(-3_600)
            for step in history.steps {
                log.append(step.description)
                switch step {
                case .drop(let file):
                    // Arrival order is explicit: each file a second after the one before.
                    arrival = arrival.addingTimeInterval(1)
                    try workspace.drop(file.name, file.text, modified: arrival)
                case .once(let faults, let kill):
                    await emulator.state.clearFaults()
                    await emulator.state.enqueue(faults.map(\.emulatorFault))
                    let process = try RunningCommand(
                        ["once", "--config", workspace.configPath], environment: ["TIKTOK_ACCESS_TOKEN": "emulator-token"])
                    switch kill {
                    case .none: break
                    case .sigkill(let ms):
                        try await Task.sleep(for: .milliseconds(ms))
                        process.signal(SIGKILL)
                    case .sigterm(let ms):
                        try await Task.sleep(for: .milliseconds(ms))
                        process.signal(SIGTERM)
                    }
                    let result = await process.wait(timeout: .seconds(60))
                    log.append("  → exit \(result.status)")
                    if case .sigterm(let ms) = kill, ms >= 100 {
                        // A graceful stop never loses what it was doing: it ends 0, or 75 with work left.
                        // (Earlier, the signal may come before the process has set up its handler.)
                        #expect([0, 65, 75].contains(result.status), "\(log.joined(separator: "\n"))\n\(result.output)")
                    }
                case .run(let faults, let stop):
                    await emulator.state.clearFaults()
                    await emulator.state.enqueue(faults.map(\.emulatorFault))
                    let daemon = try RunningCommand(
                        ["run", "--config", workspace.configPath], environment: ["TIKTOK_ACCESS_TOKEN": "emulator-token"])
                    switch stop {
                    case .sigterm(let ms):
                        try await Task.sleep(for: .milliseconds(ms))
                        daemon.signal(SIGTERM)
                    case .sigkill(let ms):
                        try await Task.sleep(for: .milliseconds(ms))
                        daemon.signal(SIGKILL)
                    case .none:
                        daemon.signal(SIGTERM)
                    }
                    let result = await daemon.wait(timeout: .seconds(60))
                    log.append("  → exit \(result.status)")
                    if case .sigterm = stop {
                        #expect(result.status == 0, "\(log.joined(separator: "\n"))\n\(result.output)")
                    }
                }
            }
            // Clean runs until nothing is left: what a cron job sees over its next runs.
            await emulator.state.clearFaults()
            var final = try await workspace.once()
            for _ in 0..<5 where final.status == 75 {
                try await Task.sleep(for: .milliseconds(4_200))
                final = try await workspace.once()
            }
            log.append("final once → exit \(final.status)")
            #expect(final.status == 0, "\(log.joined(separator: "\n"))\n\(final.output)")
            // Late landings that may still be due would show up here.
            try await Task.sleep(for: .milliseconds(1_500))
            let expected = history.oracle
            for segment in ModelHistory.segments {
                let held = await emulator.state.members(of: segment)
                let wanted = expected[segment] ?? []
                if held != wanted {
                    let extra = held.subtracting(wanted).sorted().map { "\($0.idType) \($0.id.prefix(8))" }
                    let missing = wanted.subtracting(held).sorted().map { "\($0.idType) \($0.id.prefix(8))" }
                    Issue.record(
                        """
                        segment \(segment): TikTok holds \(held.count), the files say \(wanted.count); \
                        extra \(extra), missing \(missing)
                        \(log.joined(separator: "\n"))
                        """)
                }
            }
        }
    }
}
