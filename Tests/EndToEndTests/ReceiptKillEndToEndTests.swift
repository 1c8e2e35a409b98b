import Foundation
import Testing
import TikTokEmulator
import TestFixtures

/// Every file ends with exactly one receipt, whatever the moment the process dies while taking
/// it: killed (SIGKILL, from inside, at a marked point) after the plan is committed, after the
/// receipt is written, or after the file left the inbox, then run again.
@Suite("a kill at each step of taking a file still leaves exactly one receipt", .serialized)
struct ReceiptKillEndToEndTests {
    enum Outcome: String, CaseIterable {
        case applied, duplicate, rejected, held
    }

    /// The steps each outcome passes (a file set aside is never planned).
    static let cases: [(Outcome, String)] = Outcome.allCases.flatMap { outcome in
        (outcome == .applied ? ["after-plan-committed"] : []).map { (outcome, $0) }
            + ["after-receipt-written", "after-file-moved"].map { (outcome, $0) }
    }

    let people = (0..<10).map { sha256Hex("receipt\($0)@example.com") }

    @Test("killed while taking a file, then run again: one receipt, the file out of the inbox, recorded where it went", arguments: cases)
    func killWhileTaking(outcome: Outcome, point: String) async throws {
        try await TikTokEmulator.withRunning { emulator in
            let workspace = try Workspace(emulator: emulator, extraYAML: "max_snapshot_removal_percent: 50")
            let delta = "email_hash,segment_id,action\n" + people.map { "\($0),123456,add\n" }.joined()
            // What comes before the file the kill is for.
            switch outcome {
            case .duplicate, .held:
                try workspace.drop("first.csv", delta, age: 60)
                #expect(try await workspace.once().status == 0)
            case .applied, .rejected:
                break
            }
            let name = "taken.csv"
            switch outcome {
            case .applied, .duplicate: try workspace.drop(name, delta, age: 30)
            case .rejected: try workspace.drop(name, bytes: [0x00, 0x01, 0xff, 0x0a], age: 30)
            // Removes 9 of the 10 members: over the 50 % limit.
            case .held: try workspace.drop(name, "email_hash,segment_id\n\(people[0]),123456\n", age: 30)
            }
            let killed = try await RunningCommand(
                ["once", "--config", workspace.configPath],
                environment: ["TIKTOK_ACCESS_TOKEN": "emulator-token", "TIKTOK_AUDIENCE_SYNC_KILL_AT": point]
            ).wait(timeout: .seconds(60))
            #expect(killed.status == SIGKILL, "the process died at \(point): \(killed.output)")
            let again = try await workspace.once()
            #expect([0, 65].contains(again.status), "\(again.output)")

            #expect(workspace.files(under: "inbox").isEmpty, "the file left the inbox")
            var receipts: [[String: Any]] = []
            for path in workspace.receiptFiles() {
                let data = try Data(contentsOf: URL(fileURLWithPath: workspace.state + "/receipts/" + path))
                if let receipt = try JSONSerialization.jsonObject(with: data) as? [String: Any], receipt["file"] as? String == name {
                    receipts.append(receipt)
                }
            }
            #expect(receipts.count == 1, "one receipt for the file: \(workspace.receiptFiles())")
            #expect(receipts.first?["outcome"] as? String == outcome.rawValue)
            let folder = switch outcome {
            case .applied: "state/archive"
            case .duplicate: "state/nowhere"  // the bytes are archived already, as first.csv
            case .rejected: "state/rejected"
            case .held: "state/held"
            }
            let kept = workspace.files(under: folder).filter { $0.hasPrefix(name) && !$0.hasSuffix(".reason.txt") }
            #expect(kept.count == (outcome == .duplicate ? 0 : 1), "\(kept)")
            if let place = receipts.first?["archived_as"] as? String {
                #expect(FileManager.default.fileExists(atPath: workspace.state + "/" + place), "the receipt names where the file is: \(place)")
            }
            if outcome == .applied {
                #expect(receipts.first?["archived_as"] as? String == "archive/" + name)
                // The ledger knows where it went: the same bytes again are a duplicate, not a file to move.
                try workspace.drop("again.csv", delta, age: 0)
                let duplicate = try await workspace.once()
                #expect(duplicate.status == 0)
                #expect(duplicate.output.contains("duplicate"), "\(duplicate.output)")
                #expect(workspace.files(under: "state/archive") == [name])
            }
            let members = outcome == .rejected ? [] : Set(people)
            #expect(Set(await emulator.state.members(of: "123456").map(\.id)) == members, "nothing else changed")
        }
    }
}
