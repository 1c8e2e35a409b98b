import Foundation
import Testing
import TestFixtures
@testable import AudienceModel
@testable import AudienceReading
import AudienceModel
import AudienceReading

@Suite("Reading audience files")
struct AudienceFileReaderTests {
    let alice = sha256Hex("alice@example.com")
    let bob = sha256Hex("bob@example.com")

    @Test("columns by name in any order and any case; comma, tab and pipe told from the header")
    func columnsAndDelimiters() throws {
        let directory = try TemporaryDirectory()
        for (name, delimiter) in [("comma.csv", ","), ("tab.tsv", "\t"), ("pipe.txt", "|")] {
            let text = ["Segment_ID", "ACTION", " Email_Hash "].joined(separator: delimiter) + "\n"
                + ["123", "add", alice.uppercased()].joined(separator: delimiter) + "\n"
            let (summary, changes) = try readAll(try directory.write(name, text))
            #expect(summary.isDelta)
            #expect(changes.count == 1)
            #expect(changes.first?.0 == "123")
            #expect(changes.first?.2 == alice, "hashes are sent lowercase")
        }
    }

    @Test("RFC 4180 quoting, CRLF line ends and a byte-order mark")
    func quotingAndLineEnds() throws {
        let directory = try TemporaryDirectory()
        let text = "\u{FEFF}email_hash,note,segment_id\r\n\"\(alice)\",\"said \"\"hi\"\", then\r\nleft\",\"123\"\r\n\(bob),x,456\r\n"
        let (summary, changes) = try readAll(try directory.write("quoted.csv", text))
        #expect(summary.rowsRead == 2)
        #expect(summary.rowsRejected == 0)
        #expect(changes.map(\.0) == ["123", "456"])
        #expect(summary.ignoredColumns == ["note"])
    }

    @Test("line numbers count newlines inside quoted fields")
    func lineNumbersAcrossQuotedNewlines() throws {
        let directory = try TemporaryDirectory()
        let text = "email_hash,note,segment_id\n\(alice),\"two\nlines\",1\nbad,x,1\n"
        let (summary, _) = try readAll(try directory.write("lines.csv", text))
        #expect(summary.rejections.map(\.line) == [4])
    }

    @Test("no action column makes a snapshot: every row is an add")
    func snapshotFile() throws {
        let directory = try TemporaryDirectory()
        let (summary, changes) = try readAll(try directory.write("s.csv", "email_hash,segment_id\n\(alice),1\n"))
        #expect(!summary.isDelta)
        #expect(changes.map(\.3) == [.add])
    }

    @Test("several identifiers in one row are each a member; actions in any case")
    func severalIdentifiersPerRow() throws {
        let directory = try TemporaryDirectory()
        let text = "email_hash,phone_hash,maid,segment_id,action\n\(alice),\(bob),5F3A2B18-9C4D-4E7F-B8E2-17D3A1E69B25,9,REMOVE\n\(alice),,,9,Delete\n"
        var options = ReadingOptions()
        options.identifierRules.maidType = .idfa
        let (_, changes) = try readAll(try directory.write("multi.csv", text), options: options)
        #expect(changes.count == 4)
        #expect(changes.map(\.1) == [.emailSHA256, .phoneSHA256, .idfaSHA256, .emailSHA256])
        #expect(changes.allSatisfy { $0.3 == .remove })
    }

    @Test("a MAID is trimmed, lowercased and hashed as TikTok's own example says")
    func maidNormalisation() throws {
        let directory = try TemporaryDirectory()
        let text = "maid,maid_type,segment_id\n  5F3A2B18-9C4D-4E7F-B8E2-17D3A1E69B25 ,ios,1\n5f3a2b18-9c4d-4e7f-b8e2-17d3a1e69b25,gaid,1\n"
        let (_, changes) = try readAll(try directory.write("maid.csv", text))
        let expected = "83dc3f5f32b9472613b0f038d36f22585a609d018af6f6067f50da318bf354bd"
        #expect(changes.map(\.2) == [expected, expected])
        #expect(changes.map(\.1) == [.idfaSHA256, .aaidSHA256])
        var options = ReadingOptions()
        options.identifierRules.maidType = .aaid
        let (_, androids) = try readAll(try directory.write("maid2.csv", "maid,segment_id\n\(String(repeating: "a", count: 8))-9c4d-4e7f-b8e2-17d3a1e69b25,1\n"), options: options)
        #expect(androids.map(\.1) == [.aaidSHA256])
    }

    @Test("plain email and phone are normalised as TikTok's help page says and hashed on this machine")
    func plainEmailAndPhone() throws {
        let directory = try TemporaryDirectory()
        let text = "email,phone,segment_id\n  Testing@Testing.COM ,,1\n,+1 (415) 555-0123,1\n,14155550123,1\n"
        let (_, changes) = try readAll(try directory.write("plain.csv", text))
        #expect(changes.map(\.2) == [
            "584c4423c421df49955759498a71495aba49b8780eb9387dff333b6f0982c777", sha256Hex("14155550123"), sha256Hex("14155550123"),
        ], "by default a phone is hashed as digits only, without the +, with or without it in the file")
        var options = ReadingOptions()
        options.identifierRules.phoneForm = .e164
        let (summary, e164) = try readAll(try directory.write("plain.csv", text), options: options)
        #expect(e164.map(\.2) == ["584c4423c421df49955759498a71495aba49b8780eb9387dff333b6f0982c777", sha256Hex("+14155550123")])
        #expect(summary.rejections.map(\.reason) == [.badPhone], "E.164 needs the + to know the country code is there")
    }

    @Test("an email's +tag is removed as TikTok says unless turned off; dots only when asked", arguments: [
        (true, false, "Jane.Doe+news@Example.com", "jane.doe@example.com"),
        (false, false, "Jane.Doe+news@Example.com", "jane.doe+news@example.com"),
        (true, true, "Jane.Doe+news@Example.com", "janedoe@example.com"),
        (true, false, "+only@example.com", "+only@example.com"),
        (true, false, "a+b+c@example.com", "a@example.com"),
    ])
    func emailRules(removesPlusTag: Bool, removesDots: Bool, input: String, normalised: String) throws {
        var rules = IdentifierRules()
        rules.emailRemovesPlusTag = removesPlusTag
        rules.emailRemovesDots = removesDots
        let member = try PlainIdentifier.member(input, as: .email, rules: rules).get()
        #expect(member.sentHex == sha256Hex(normalised))
    }

    @Test("TikTok's published vectors hash exactly")
    func publishedVectors() throws {
        let rules = IdentifierRules()
        #expect(try PlainIdentifier.member("testing@testing.com", as: .email, rules: rules).get().sentHex
            == "584c4423c421df49955759498a71495aba49b8780eb9387dff333b6f0982c777")
        #expect(try PlainIdentifier.member("janedoe@gmail.com", as: .email, rules: rules).get().sentHex
            == "d6117306485ed0e50afab3ac871e98f81699151f30281527d63ff5f233656c69")
        let maid = try PlainIdentifier.member("5f3a2b18-9c4d-4e7f-b8e2-17d3a1e69b25", as: .maid(.idfa), rules: rules).get()
        #expect(maid.sentHex == "83dc3f5f32b9472613b0f038d36f22585a609d018af6f6067f50da318bf354bd")
        #expect(maid.type == .idfaSHA256)
    }

    @Test("MAIDs: UUIDs hashed, SHA-256 and MD5 values taken as they are, idfa and aaid columns, no silent type")
    func maidForms() throws {
        let directory = try TemporaryDirectory()
        let sha = sha256Hex("some device")
        let md5 = "0123456789ABCDEF0123456789abcdef"
        let text = """
            idfa,aaid,maid,maid_type,segment_id
            \(sha.uppercased()),,,,1
            ,\(md5),,,1
            ,,\(md5),idfa,1
            ,,5f3a2b18-9c4d-4e7f-b8e2-17d3a1e69b25,,1
            ,,\(String(repeating: "0", count: 32)),aaid,1

            """
        let (summary, changes) = try readAll(try directory.write("maids.csv", text))
        #expect(changes.map(\.1) == [.idfaSHA256, .aaidMD5, .idfaMD5])
        #expect(changes.map(\.2) == [sha, md5.lowercased(), md5.lowercased()], "MD5 goes out as its 32 hex digits")
        #expect(summary.rejections.map(\.reason) == [.maidWithoutType, .badMAID])
        #expect(RejectReason.maidWithoutType.advice.contains("identifiers.maid_type"))
        var options = ReadingOptions()
        options.identifierRules.maidType = .aaid
        let (typed, typedChanges) = try readAll(try directory.write("maids.csv", text), options: options)
        #expect(typed.rejections.map(\.reason) == [.badMAID])
        #expect(typedChanges.map(\.1) == [.idfaSHA256, .aaidMD5, .idfaMD5, .aaidSHA256])
    }

    @Test("every bad-row reason is reported with its line; good rows still apply")
    func rejectReasons() throws {
        let directory = try TemporaryDirectory()
        let md5 = String(repeating: "a", count: 32)
        let lines = [
            "email_hash,email,phone,maid,maid_type,segment_id,action",
            "\(alice),,,,,1,add",  // 2 good
            "zz,,,,,1,add",  // 3 not sha256
            "\(md5),,,,,1,add",  // 4 md5
            "a@b.example,,,,,1,add",  // 5 plain email in hash column
            ",nobody,,,,1,add",  // 6 bad email
            ",,555-01,,,1,add",  // 7 phone too short to hold a country code
            ",,,not-a-uuid,,1,add",  // 8 bad maid
            ",,,00000000-0000-0000-0000-000000000000,,1,add",  // 9 opted-out maid
            ",,,5f3a2b18-9c4d-4e7f-b8e2-17d3a1e69b25,windows,1,add",  // 10 bad maid type
            ",,,,,1,add",  // 11 no identifier
            "\(bob),,,,,,add",  // 12 missing segment
            "\(bob),,,,,12a,add",  // 13 bad segment
            "\(bob),,,,,1,",  // 14 missing action
            "\(bob),,,,,1,upsert",  // 15 unknown action
            "\(bob),,,,,1",  // 16 wrong field count
            "\"\(bob)\"x,,,,,1,add",  // 17 text after closing quote
            "\(bob),,,,,\(String(repeating: "9", count: 20)),add",  // 18 segment too long
            ",,,5f3a2b18-9c4d-4e7f-b8e2-17d3a1e69b25,,1,add",  // 19 maid without a type
        ]
        let (summary, changes) = try readAll(try directory.write("bad.csv", lines.joined(separator: "\n") + "\n"))
        #expect(changes.count == 1)
        #expect(summary.rowsRead == 18)
        #expect(summary.rowsRejected == 17)
        let reasons = summary.rejections.map { "\($0.line):\($0.reason.rawValue)" }
        #expect(reasons == [
            "3:not_sha256", "4:md5_not_accepted", "5:plain_email_in_hash_column", "6:bad_email", "7:bad_phone",
            "8:bad_maid", "9:bad_maid", "10:bad_maid_type", "11:no_identifier", "12:missing_segment", "13:bad_segment",
            "14:missing_action", "15:unknown_action", "16:wrong_field_count", "17:malformed_quoting", "18:bad_segment",
            "19:maid_without_type",
        ])
    }

    @Test("reports never hold a whole identifier")
    func rejectionsAreRedacted() throws {
        let directory = try TemporaryDirectory()
        let secretEmail = "someone.private@example.com"
        let text = "email_hash,segment_id\n\(secretEmail),1\n\(alice.dropLast()),1\n"
        let (summary, _) = try readAll(try directory.write("r.csv", text))
        for rejection in summary.rejections {
            #expect(!rejection.detail.contains(secretEmail))
            #expect(!rejection.detail.contains(String(alice.dropLast())))
        }
    }

    @Test("a partner's rows may only touch its own segments")
    func allowedSegments() throws {
        let directory = try TemporaryDirectory()
        var options = ReadingOptions()
        options.allowedSegments = ["1"]
        let (summary, changes) = try readAll(
            try directory.write("p.csv", "email_hash,segment_id\n\(alice),1\n\(bob),2\n"), options: options)
        #expect(changes.count == 1)
        #expect(summary.rejections.map(\.reason) == [.segmentNotAllowed])
    }

    @Test("files that are not audience files are rejected whole, with the reason")
    func wholeFileRejections() throws {
        let directory = try TemporaryDirectory()
        let cases: [(String, [UInt8], AudienceFileError.Kind)] = [
            ("empty.csv", [], .empty),
            ("blank-first-line.csv", Array("\nemail_hash,segment_id\n".utf8), .noHeader),
            ("no-id.csv", Array("name,segment_id\nx,1\n".utf8), .noIdentifierColumn),
            ("no-segment.csv", Array("email_hash,name\nx,1\n".utf8), .noSegmentColumn),
            ("dup.csv", Array("email_hash,segment_id,EMAIL_HASH\n".utf8), .duplicateColumn),
            ("nul.csv", Array("email_hash,segment_id\n".utf8) + [0x61, 0x00, 0x0a], .binary),
            ("latin1.csv", Array("email_hash,segment_id,name\nx,1,".utf8) + [0xE9, 0x0a], .notUTF8),
            ("fake.csv.gz", Array("email_hash,segment_id\n".utf8), .corruptGzip),
            ("quote.csv", Array("email_hash,segment_id\n\"abc,1\n".utf8), .unclosedQuote),
        ]
        for (name, bytes, kind) in cases {
            let path = try directory.write(name, bytes: bytes)
            #expect(throws: AudienceFileError.self, "\(name)") { _ = try readAll(path) }
            do { _ = try readAll(path) } catch let error as AudienceFileError { #expect(error.kind == kind, "\(name)") }
        }
    }

    @Test("a line over the size bound is refused instead of filling memory")
    func hugeLine() throws {
        let directory = try TemporaryDirectory()
        let text = "email_hash,segment_id\n" + String(repeating: "a", count: 2 << 20) + ",1\n"
        do {
            _ = try readAll(try directory.write("huge.csv", text))
            Issue.record("a 2 MiB line was accepted")
        } catch let error as AudienceFileError {
            #expect(error.kind == .lineTooLong)
        }
    }

    @Test("gzip files are read on the fly, concatenated members included")
    func gzip() throws {
        let directory = try TemporaryDirectory()
        let first = try gzipped("email_hash,segment_id\n\(alice),1\n")
        let second = try gzipped("\(bob),2\n")
        let (summary, changes) = try readAll(try directory.write("a.csv.gz", bytes: first + second))
        #expect(summary.rowsRead == 2)
        #expect(changes.map(\.2) == [alice, bob])
        let (_, unnamed) = try readAll(try directory.write("a-gzip-without-suffix.csv", bytes: first))
        #expect(unnamed.count == 1)
    }

    @Test("a truncated gzip upload is rejected, not partly applied")
    func truncatedGzip() throws {
        let directory = try TemporaryDirectory()
        var rows = "email_hash,segment_id\n"
        for index in 0..<2000 { rows += sha256Hex("user\(index)") + ",1\n" }
        let full = try gzipped(rows)
        let path = try directory.write("cut.csv.gz", bytes: Array(full.prefix(full.count - 6)))
        var seen = 0
        do {
            let reader = try AudienceFileReader(path: path)
            _ = try reader.read { _ in seen += 1 }
            Issue.record("a truncated gzip was accepted")
        } catch let error as AudienceFileError {
            #expect(error.kind == .truncatedGzip)
        }
    }

    @Test("a gzip bomb stops at max_decompressed_bytes")
    func gzipBomb() throws {
        let directory = try TemporaryDirectory()
        let bomb = try gzipped("email_hash,segment_id\n" + String(repeating: "\(alice),1\n", count: 20_000))
        var options = ReadingOptions()
        options.maximumDecompressedBytes = 100_000
        do {
            _ = try readAll(try directory.write("bomb.csv.gz", bytes: bomb), options: options)
            Issue.record("the bound was not applied")
        } catch let error as AudienceFileError {
            #expect(error.kind == .tooLarge)
        }
    }

    @Test("symlinks and FIFOs are never opened")
    func notRegularFiles() throws {
        let directory = try TemporaryDirectory()
        let target = try directory.write("real.csv", "email_hash,segment_id\n\(alice),1\n")
        let link = directory.path + "/link.csv"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: target)
        let fifo = directory.path + "/pipe.csv"
        #expect(mkfifo(fifo, 0o600) == 0)
        for path in [link, fifo, directory.path] {
            do {
                _ = try AudienceFileReader(path: path)
                Issue.record("\(path) was opened")
            } catch let error as AudienceFileError {
                #expect(error.kind == .notRegularFile)
            }
        }
    }

    @Test("the fingerprint is the SHA-256 of the bytes, whatever the name")
    func fingerprint() throws {
        let directory = try TemporaryDirectory()
        let text = "email_hash,segment_id\n\(alice),1\n"
        let one = try AudienceFileReader(path: try directory.write("one.csv", text)).fingerprint()
        let two = try AudienceFileReader(path: try directory.write("sub/two.txt", text)).fingerprint()
        #expect(one == two)
        #expect(one.hex == sha256Hex(text))
    }

    @Test("hashing a large file gives up between two MiB when asked (a shutdown does not wait for it)")
    func fingerprintStops() throws {
        struct Stop: Error {}
        let directory = try TemporaryDirectory()
        let row = "email_hash,segment_id\n" + String(repeating: "\(alice),1\n", count: 60_000)  // about 4 MiB
        let reader = try AudienceFileReader(path: try directory.write("large.csv", row))
        var asked = 0
        #expect(throws: Stop.self) {
            _ = try reader.fingerprint(between: {
                asked += 1
                if asked == 2 { throw Stop() }
            })
        }
        #expect(asked == 2, "asked before each MiB, and stopped at the first yes")
        #expect(try reader.fingerprint().hex == sha256Hex(row), "and the next hash reads the file whole")
    }
}

@Suite("Hex digests")
struct HexDigestTests {
    /// The straightforward decoder the fast one must agree with.
    func reference(_ text: [UInt8]) -> Digest32? {
        var bytes: [UInt8] = []
        for pair in stride(from: 0, to: 64, by: 2) {
            guard let high = IdentifierNormalizer.hexValue(text[pair]), let low = IdentifierNormalizer.hexValue(text[pair + 1])
            else { return nil }
            bytes.append(high << 4 | low)
        }
        return Digest32(bytes)
    }

    func decode(_ text: [UInt8]) -> Digest32? {
        text.withUnsafeBytes { IdentifierNormalizer.decodeHex64($0[...]) }
    }

    @Test("every byte value, at every position, is accepted exactly when it is a hex digit")
    func everyByteEverywhere() {
        var random = SeededRandom(state: 7)
        let digits = Array("0123456789abcdefABCDEF".utf8)
        for position in 0..<64 {
            var text = (0..<64).map { _ in digits[Int(random.next() % UInt64(digits.count))] }
            for byte in 0...255 {
                text[position] = UInt8(byte)
                #expect(decode(text) == reference(text), "byte \(byte) at \(position)")
            }
        }
    }

    @Test("mixed case decodes to the same digest as lowercase")
    func mixedCase() {
        let lower = Array(sha256Hex("a@example.com").utf8)
        let mixed = lower.enumerated().map { index, byte in
            index % 3 == 0 && (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte) ? byte - 0x20 : byte
        }
        #expect(mixed != lower)
        #expect(decode(mixed) == decode(lower))
        #expect(decode(lower)?.hex == String(decoding: lower, as: UTF8.self))
    }
}
