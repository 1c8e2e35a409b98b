import Foundation
import Testing
import TestFixtures
@testable import AudienceConfig
@testable import AudienceReading
import AudienceModel

/// A MAID of 32 hex digits is an MD5 or a UUID without its hyphens: never guessed, a setting.
@Suite("MAIDs of 32 hex digits")
struct MAIDHex32Tests {
    /// TikTok's own example MAID, and what TikTok receives for it.
    static let uuid = "5f3a2b18-9c4d-4e7f-b8e2-17d3a1e69b25"
    static let hashedUUID = "83dc3f5f32b9472613b0f038d36f22585a609d018af6f6067f50da318bf354bd"

    @Test("md5 (the default) sends the value as AAID_MD5; uuid puts the hyphens back and hashes it as TikTok does; reject says why")
    func eachSetting() throws {
        let directory = try TemporaryDirectory()
        let bare = Self.uuid.replacingOccurrences(of: "-", with: "").uppercased()
        let path = try directory.write("m.csv", "aaid,segment_id\n\(bare),123456\n")
        var options = ReadingOptions()
        let (_, asMD5) = try readAll(path, options: options)
        #expect(asMD5.map(\.1) == [.aaidMD5])
        #expect(asMD5.map(\.2) == [bare.lowercased()])
        options.identifierRules.maid32Hex = .uuid
        let (_, asUUID) = try readAll(path, options: options)
        #expect(asUUID.map(\.1) == [.aaidSHA256])
        #expect(asUUID.map(\.2) == [Self.hashedUUID], "the same hash as the hyphenated UUID")
        options.identifierRules.maid32Hex = .reject
        let (summary, refused) = try readAll(path, options: options)
        #expect(refused.isEmpty)
        #expect(summary.rejections.map(\.reason) == [.ambiguousMAID])
    }

    @Test("the rules say which, and a change of the setting is a change of the hashing rules; the default changes nothing recorded")
    func rules() throws {
        var rules = IdentifierRules()
        #expect(rules.summary.hasSuffix("32-hex maid is an MD5"))
        let recorded = rules.hashingKey
        #expect(recorded == "email_remove_plus_tag=true;email_remove_dots=false;phone_format=digits", "what ledgers recorded before")
        rules.maid32Hex = .uuid
        #expect(rules.summary.hasSuffix("32-hex maid is a UUID without hyphens"))
        #expect(rules.changes(since: recorded) == ["maid_32_hex md5 → uuid"])
        rules.maid32Hex = .md5
        #expect(rules.changes(since: recorded).isEmpty)
    }

    @Test("identifiers.maid_32_hex is read from the configuration; a wrong value is refused naming the choices")
    func configuration() async throws {
        let directory = try TemporaryDirectory()
        let base = "inbox: /tmp/i\nstate_directory: /tmp/s\ntiktok:\n  advertiser_id: \"1\"\n"
        let good = try directory.write("good.yaml", base + "identifiers:\n  maid_32_hex: uuid\n")
        #expect(try await ConfigurationLoader.load(path: good, environment: [:]).identifiers.maid32Hex == .uuid)
        let bad = try directory.write("bad.yaml", base + "identifiers:\n  maid_32_hex: guess\n")
        await #expect(throws: ConfigurationError.self) { try await ConfigurationLoader.load(path: bad, environment: [:]) }
    }

    @Test("a file whose 32-hex MAIDs are laid out like UUIDs gets a hint; MD5s do not")
    func hint() throws {
        let directory = try TemporaryDirectory()
        var generator = SeededRandom(state: 5)
        func hex(_ count: Int) -> String { (0..<count).map { _ in String(generator.next() % 16, radix: 16) }.joined() }
        let uuids = (0..<40).map { _ in hex(12) + "4" + hex(3) + "a" + hex(15) }
        let md5s = (0..<40).map { _ in sha256Hex(hex(8)).prefix(32) }
        let (likeUUIDs, _) = try readAll(try directory.write("u.csv", "idfa,segment_id\n" + uuids.map { "\($0),1\n" }.joined()))
        let hint = try #require(likeUUIDs.maid32HexHint(IdentifierRules()))
        #expect(hint.contains("maid_32_hex: uuid"))
        let (hashes, _) = try readAll(try directory.write("h.csv", "idfa,segment_id\n" + md5s.map { "\($0),1\n" }.joined()))
        #expect(hashes.maid32HexHint(IdentifierRules()) == nil)
        var uuidRules = IdentifierRules()
        uuidRules.maid32Hex = .uuid
        #expect(hashes.maid32HexHint(uuidRules)?.contains("maid_32_hex: md5") == true)
    }
}
