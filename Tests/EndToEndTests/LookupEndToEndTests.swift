import Foundation
import Testing
import TikTokEmulator
import TestFixtures

/// `lookup`: one member traced end to end, with the built executable against the emulator.
@Suite("lookup: a member traced end to end")
struct LookupEndToEndTests {
    static let partners = """
        identifiers:
          maid_type: aaid
        partners:
          acme:
            segments: ["123456", "654321"]
          globex:
            segments: ["654321"]
        """

    @Test("email, phone and MAID: the wish, what TikTok confirmed, the files that changed it and the last request, nothing plain printed or stored")
    func traceEachKind() async throws {
        try await TikTokEmulator.withRunning { emulator in
            let workspace = try Workspace(emulator: emulator, extraYAML: Self.partners)
            let maid = "5f3a2b18-9c4d-4e7f-b8e2-17d3a1e69b25"
            try workspace.drop("acme/monday.csv", """
                email,phone,segment_id,action
                Jane.Doe+news@Example.com,+1 415 555 0123,123456,add
                jane.doe@example.com,,654321,add

                """, age: 300)
            try workspace.drop("globex/devices.csv", "maid,segment_id,action\n\(maid),654321,add\n", age: 200)
            let monday = try await workspace.once()
            #expect(monday.status == 0, "\(monday.output)")
            try workspace.drop("acme/tuesday.csv", "email,segment_id,action\njane.doe@example.com,654321,remove\n", age: 100)
            let tuesday = try await workspace.once()
            #expect(tuesday.status == 0, "\(tuesday.output)")
            let jane = EmulatorMember(idType: "EMAIL_SHA256", id: sha256Hex("jane.doe@example.com"))
            #expect(await emulator.state.members(of: "123456").contains(jane))
            #expect(!(await emulator.state.members(of: "654321").contains(jane)))

            let email = try await runCommand(["lookup", "--config", workspace.configPath, "--email", " JANE.doe+other@example.com"])
            #expect(email.status == 0, "\(email.output)")
            let text = email.stdout
            #expect(text.contains("segment 123456 (partners: acme)"))
            #expect(text.contains("segment 654321 (partners: acme, globex)"))
            let sections = text.components(separatedBy: "segment 654321")
            let in123456 = sections[0], in654321 = sections.count > 1 ? sections[1] : ""
            #expect(in123456.contains("wish:         in") && in123456.contains("TikTok:       in (confirmed)"), "\(text)")
            #expect(in123456.contains("acme/monday.csv  add"))
            #expect(in123456.contains("code 0 OK, request_id="), "\(text)")
            #expect(in654321.contains("TikTok:       out (confirmed)"), "\(text)")
            #expect(in654321.contains("acme/tuesday.csv  remove") && in654321.contains("acme/monday.csv  add"), "newest first: \(text)")
            #expect(in654321.range(of: "acme/tuesday.csv")?.lowerBound ?? text.endIndex < in654321.range(of: "acme/monday.csv")?.lowerBound ?? text.startIndex)
            #expect(in654321.contains("delete of 1 user(s), code 0 OK"), "\(text)")
            #expect(!email.output.lowercased().contains("jane"), "the value is never printed")
            #expect(!email.output.contains(sha256Hex("jane.doe@example.com")), "nor its whole hash")

            let hashed = try await runCommand(["lookup", "--config", workspace.configPath, "--email", sha256Hex("jane.doe@example.com").uppercased(), "--segment", "123456", "--json"])
            #expect(hashed.status == 0, "\(hashed.output)")
            let document = try #require(try JSONSerialization.jsonObject(with: Data(hashed.stdout.utf8)) as? [String: Any])
            let segments = try #require(document["segments"] as? [[String: Any]])
            #expect(segments.map { $0["segment"] as? String } == ["123456"], "--segment keeps one")
            #expect(segments.first?["wish"] as? String == "in")
            #expect(segments.first?["tiktok"] as? String == "in")
            let request = try #require(segments.first?["last_request"] as? [String: Any])
            #expect(request["code"] as? Int == 0)
            #expect((request["request_id"] as? String)?.isEmpty == false)

            let phone = try await runCommand(["lookup", "--config", workspace.configPath, "--phone", "+1 (415) 555-0123"])
            #expect(phone.stdout.contains("PHONE_SHA256") && phone.stdout.contains("segment 123456"), "\(phone.output)")
            #expect(!phone.stdout.contains("segment 654321"))

            let device = try await runCommand(["lookup", "--config", workspace.configPath, "--maid", maid.uppercased()])
            #expect(device.status == 0)
            #expect(device.stdout.contains("segment 654321 as AAID_SHA256"), "looked up as IDFA and AAID, found as AAID: \(device.stdout)")
            #expect(device.stdout.contains("globex/devices.csv  add"))
            #expect(!device.output.lowercased().contains(maid))

            let unknown = try await runCommand(["lookup", "--config", workspace.configPath, "--email", "nobody@example.com"])
            #expect(unknown.status == 0)
            #expect(unknown.stdout.contains("the ledger knows nothing of this member"))
            let bad = try await runCommand(["lookup", "--config", workspace.configPath, "--email", "not-an-email"])
            #expect(bad.status == 65)
            #expect(!bad.output.contains("not-an-email"), "a refused value is not repeated")

            let ledger = try Data(contentsOf: URL(fileURLWithPath: workspace.state + "/ledger.sqlite"))
            for plain in ["jane.doe", "Jane.Doe", "4155550123", "5f3a2b18"] {
                #expect(ledger.range(of: Data(plain.utf8)) == nil, "the ledger holds nothing plain (\(plain))")
            }
        }
    }

    @Test("a segment TikTok refuses: lookup shows the wish waiting, parked, with TikTok's code and request_id")
    func parkedSegment() async throws {
        try await TikTokEmulator.withRunning { emulator in
            let workspace = try Workspace(emulator: emulator)
            await emulator.state.setRefusedAudiences(["654321"])
            try workspace.drop("x.csv", "email,segment_id\nann@example.com,654321\n")
            #expect(try await workspace.once().status == 75)
            let result = try await runCommand(["lookup", "--config", workspace.configPath, "--email", "ann@example.com"])
            #expect(result.stdout.contains("an add is parked"), "\(result.stdout)")
            #expect(result.stdout.contains("code 40002 PARAM_ERROR"), "\(result.stdout)")
            #expect(result.stdout.contains("x.csv  add (in the snapshot)"), "\(result.stdout)")
        }
    }
}
