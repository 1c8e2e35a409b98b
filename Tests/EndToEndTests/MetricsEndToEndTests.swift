import AsyncHTTPClient
import Foundation
import Testing
import TikTokEmulator
import TestFixtures

/// The daemon's metrics as Prometheus sees them: scraped from the running daemon and read by
/// Prometheus' own Python parser (python3-prometheus-client); the shipped alert rules by promtool.
@Suite("Metrics: a scrape of the running daemon", .serialized)
struct MetricsEndToEndTests {
    static let parser = "/usr/bin/python3"
    static let rules = DeploymentFixture.repositoryRoot + "/etc/prometheus/tiktok-audience-sync.rules.yml"

    @Test("files by outcome, rows, TikTok's codes and answer times, waiting files, sizes: all there and well-formed")
    func scrape() async throws {
        try await TikTokEmulator.withRunning { emulator in
            let port = try freeLoopbackPort()
            let workspace = try Workspace(
                emulator: emulator, extraYAML: "metrics:\n  listen: 127.0.0.1:\(port)\npartners:\n  acme:\n    segments: [\"123456\"]")
            let people = (0..<3).map { sha256Hex("metric\($0)@example.com") }
            try workspace.drop("acme/good.csv", "email_hash,segment_id\n" + people.map { "\($0),123456" }.joined(separator: "\n") + "\nbad,123456\n")
            try workspace.drop("acme/binary.csv", bytes: [0x00, 0x01, 0x0a])
            try workspace.drop("acme/unfinished.csv", "email_hash,segment_id\n\(people[0]),123456", age: 0)
            let daemon = try RunningCommand(["run", "--config", workspace.configPath], environment: ["TIKTOK_ACCESS_TOKEN": "emulator-token"])
            #expect(await emulator.state.waitUntil { state in state.members(of: "123456").count == 3 })
            var samples: [String: Double] = [:]
            #expect(await eventually {
                samples = (try? await Self.parsedScrape(port: port)) ?? [:]
                return samples["tiktok_audience_sync_files_total{outcome=\"applied\"}"] == 1
                    && samples["tiktok_audience_sync_tiktok_confirmed_changes_total{action=\"add\",segment=\"123456\"}"] == 3
            }, "\(samples)")
            #expect(samples["tiktok_audience_sync_files_total{outcome=\"rejected\"}"] == 1)
            #expect(samples["tiktok_audience_sync_rows_read_total"] == 4)
            #expect(samples["tiktok_audience_sync_rows_rejected_total"] == 1)
            #expect(samples["tiktok_audience_sync_tiktok_request_duration_seconds_count"] ?? 0 >= 1)
            #expect(samples["tiktok_audience_sync_tiktok_request_duration_seconds_bucket{le=\"+Inf\"}"] ?? 0 >= 1)
            #expect(samples["tiktok_audience_sync_tiktok_confirmed_changes_total{action=\"add\",segment=\"123456\"}"] == 3)
            #expect(samples["tiktok_audience_sync_inbox_files_waiting"] == 1, "the file without a final newline waits")
            #expect(samples["tiktok_audience_sync_inbox_oldest_file_age_seconds"] != nil)
            #expect(samples["tiktok_audience_sync_ledger_bytes"] ?? 0 > 0)
            #expect(samples["tiktok_audience_sync_state_directory_bytes"] ?? 0 > 0)
            #expect(samples["tiktok_audience_sync_held_files"] == 0)
            #expect(samples["tiktok_audience_sync_parked_segments"] == 0)
            #expect(samples.keys.contains { $0.hasPrefix("tiktok_audience_sync_last_confirmed_timestamp_seconds") })
            daemon.signal(SIGTERM)
            #expect(await daemon.wait().status == 0)
        }
    }

    @Test("the shipped alert rules pass promtool check rules")
    func alertRules() async throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/promtool") else { return }
        let checked = try await ToolProcess("/usr/bin/promtool", ["check", "rules", Self.rules]).wait(timeout: .seconds(60))
        #expect(checked.status == 0, "\(checked.output)")
        #expect(checked.output.contains("SUCCESS"))
    }

    /// Every sample of a scrape, `name{label="value",...}` (labels sorted) → value, as Prometheus'
    /// Python client parses the text.
    static func parsedScrape(port: Int) async throws -> [String: Double] {
        let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)/metrics"), timeout: .seconds(10))
        let text = String(buffer: try await response.body.collect(upTo: 1 << 20))
        let path = NSTemporaryDirectory() + "scrape-\(getpid())-\(port).txt"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let script = """
            import json, sys
            from prometheus_client.parser import text_string_to_metric_families
            out = {}
            for family in text_string_to_metric_families(open(sys.argv[1]).read()):
                for s in family.samples:
                    labels = ",".join('%s="%s"' % (k, v) for k, v in sorted(s.labels.items()))
                    out[s.name + ("{" + labels + "}" if labels else "")] = s.value
            print(json.dumps(out))
            """
        let parsed = try await ToolProcess(parser, ["-c", script, path]).wait(timeout: .seconds(30))
        guard parsed.status == 0 else { throw CocoaError(.fileReadCorruptFile, userInfo: [NSLocalizedDescriptionKey: parsed.output]) }
        return try JSONDecoder().decode([String: Double].self, from: Data(parsed.stdout.utf8))
    }
}
