import Foundation
import Testing
import TikTokEmulator
import TestFixtures

/// Files as the tools people use write them, through `once`, checked against what TikTok (the
/// emulator) holds at the end. The files are written by Python's csv module in Excel's dialects
/// (`excel-tab` with the `utf-16` codec is exactly Excel's "Unicode Text": a byte-order mark,
/// UTF-16LE, tabs, CRLF after every row), not by hand.
@Suite("Exports from Excel and pandas, end to end")
struct ExportsEndToEndTests {
    static let python = "/usr/bin/python3"

    /// Writes `rows` with Python's csv module: `encoding` is Python's codec name, `dialect` one of
    /// csv's, `delimiter` over it; `mark` writes a byte-order mark first (for utf-16-be).
    func write(_ path: String, _ rows: [[String]], encoding: String, dialect: String, delimiter: String? = nil, mark: Bool = false) async throws {
        let script = """
            import csv, json, sys
            rows = json.loads(sys.argv[2])
            with open(sys.argv[1], "w", encoding=sys.argv[3], newline="") as f:
                if sys.argv[6] == "1":
                    f.write("\\ufeff")
                options = {"delimiter": sys.argv[5]} if sys.argv[5] else {}
                csv.writer(f, dialect=sys.argv[4], **options).writerows(rows)
            """
        let json = String(decoding: try JSONEncoder().encode(rows), as: UTF8.self)
        let result = try await ToolProcess(Self.python, ["-c", script, path, json, encoding, dialect, delimiter ?? "", mark ? "1" : "0"])
            .wait(timeout: .seconds(60))
        #expect(result.status == 0, "python3 wrote \(path): \(result.output)")
    }

    let header = ["Email", "Phone", "Note", "segment_id", "action"]
    let rows = [
        [" Jane.Doe+news@Example.com", "+1 (415) 555-0123", "said \"hi\"\tthen\nleft", "123456", "add"],
        ["otto@example.de", "+49 30 1234567", "Straße; Hausnummer 1", "123456", "add"],
        ["zoe@example.com", "", "😀 日本", "654321", "add"],
        ["not-an-email", "", "", "123456", "add"],
    ]
    var expected123456: Set<EmulatorMember> {
        [
            EmulatorMember(idType: "EMAIL_SHA256", id: sha256Hex("jane.doe@example.com")),
            EmulatorMember(idType: "PHONE_SHA256", id: sha256Hex("14155550123")),
            EmulatorMember(idType: "EMAIL_SHA256", id: sha256Hex("otto@example.de")),
            EmulatorMember(idType: "PHONE_SHA256", id: sha256Hex("49301234567")),
        ]
    }

    @Test("Excel's Unicode Text (UTF-16LE, tabs), UTF-16BE and Excel's semicolon CSV UTF-8 apply exactly, bad rows rejected with their line",
          arguments: [("unicode-text.txt", "utf-16", "excel-tab", nil, false), ("big-endian.txt", "utf-16-be", "excel-tab", nil, true),
                      ("semicolons.csv", "utf-8-sig", "excel", ";", false)] as [(String, String, String, String?, Bool)])
    func exportApplies(name: String, encoding: String, dialect: String, delimiter: String?, mark: Bool) async throws {
        try await TikTokEmulator.withRunning { emulator in
            let workspace = try Workspace(emulator: emulator)
            let path = workspace.root + "/" + name
            try await write(path, [header] + rows, encoding: encoding, dialect: dialect, delimiter: delimiter, mark: mark)
            try workspace.drop(name, bytes: Array(try Data(contentsOf: URL(fileURLWithPath: path))))
            let result = try await workspace.once()
            #expect(result.status == 65, "the bad row is rejected, the rest applies: \(result.output)")
            #expect(result.stdout.contains("\(name): applied, delta, 4 rows"), "\(result.stdout)")
            #expect(workspace.files(under: "inbox").isEmpty, "taken at once, not left waiting as 'cut short'")
            #expect(await emulator.state.members(of: "123456") == expected123456)
            #expect(await emulator.state.members(of: "654321") == [EmulatorMember(idType: "EMAIL_SHA256", id: sha256Hex("zoe@example.com"))])
            let receipt = try String(contentsOfFile: workspace.state + "/receipts/" + (workspace.files(under: "state/receipts").first ?? ""), encoding: .utf8)
            #expect(receipt.contains("\"line\" : 6"), "the bad row's line counts the line break in the quoted note: \(receipt)")
            let validated = try await runCommand(["validate", path])
            #expect(validated.stdout.contains(encoding.hasPrefix("utf-16") ? "UTF-16" : "semicolon-separated"), "\(validated.stdout)")
        }
    }
}
