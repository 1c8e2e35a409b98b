import Foundation
import Testing
import TestFixtures
@testable import AudienceInbox
@testable import AudienceReading
import AudienceModel

/// Files as Excel and pandas write them besides "CSV UTF-8": Excel's "Unicode Text" (UTF-16LE with
/// a byte-order mark, tab-separated, CRLF after every row, the last one included), UTF-16BE, and
/// the semicolon-separated CSV of Excel where the list separator is `;`.
@Suite("Reading UTF-16 and semicolon-separated files")
struct FileEncodingTests {
    let alice = sha256Hex("alice@example.com")
    let bob = sha256Hex("bob@example.com")

    /// `text` as UTF-16 bytes, little- or big-endian, with or without a byte-order mark.
    static func utf16(_ text: String, bigEndian: Bool = false, mark: Bool = true) -> [UInt8] {
        var bytes: [UInt8] = mark ? (bigEndian ? [0xFE, 0xFF] : [0xFF, 0xFE]) : []
        for unit in text.utf16 {
            let high = UInt8(unit >> 8), low = UInt8(unit & 0xFF)
            bytes += bigEndian ? [high, low] : [low, high]
        }
        return bytes
    }

    /// What Excel's "Save as Unicode Text" writes for a sheet: tab-separated, CRLF after each row,
    /// a cell with a tab, a quote or a line break quoted with its quotes doubled.
    static func excelUnicodeText(_ rows: [[String]]) -> [UInt8] {
        let lines = rows.map { cells in
            cells.map { cell in
                cell.contains(where: { $0 == "\t" || $0 == "\"" || $0 == "\n" || $0 == "\r" })
                    ? "\"" + cell.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : cell
            }.joined(separator: "\t")
        }
        return utf16(lines.map { $0 + "\r\n" }.joined())
    }

    @Test("Excel's Unicode Text: UTF-16LE with its mark, tabs, CRLF, quoted cells with tabs, quotes and line breaks")
    func excelUnicodeText() throws {
        let directory = try TemporaryDirectory()
        let bytes = Self.excelUnicodeText([
            ["email", "note", "segment_id", "action"],
            [" Alice@Example.com", "said \"hi\"\tthen\nleft", "123456", "add"],
            ["bob@example.com", "Müller 😀 日本", "123456", "remove"],
            ["not-an-email", "", "123456", "add"],
        ])
        let (summary, changes) = try readAll(try directory.write("export.txt", bytes: bytes))
        #expect(summary.encoding == .utf16LittleEndian)
        #expect(summary.delimiter == .tab)
        #expect(summary.rowsRead == 3)
        #expect(changes.map(\.2) == [alice, bob])
        #expect(changes.map(\.3) == [.add, .remove])
        #expect(summary.rejections.map(\.line) == [5], "line numbers count the line break inside the quoted note")
    }

    @Test("UTF-16BE with its mark, and UTF-16LE without one (Python's utf-16-le), read the same")
    func otherUTF16Forms() throws {
        let directory = try TemporaryDirectory()
        let text = "email_hash,segment_id\r\n\(alice),123456\r\n\(bob),654321\r\n"
        for (name, bytes, encoding) in [
            ("be.csv", Self.utf16(text, bigEndian: true), TextEncoding.utf16BigEndian),
            ("le-no-mark.csv", Self.utf16(text, mark: false), .utf16LittleEndian),
            ("be-no-mark.csv", Self.utf16(text, bigEndian: true, mark: false), .utf16BigEndian),
        ] {
            let (summary, changes) = try readAll(try directory.write(name, bytes: bytes))
            #expect(summary.encoding == encoding, "\(name)")
            #expect(changes.map(\.0) == ["123456", "654321"], "\(name)")
            #expect(changes.map(\.2) == [alice, bob], "\(name)")
        }
    }

    @Test("a large UTF-16 file: characters split between blocks, surrogate pairs included, decode exactly")
    func largeUTF16File() throws {
        let directory = try TemporaryDirectory()
        // 20,000 rows with a note of 1 to 6 emoji (surrogate pairs): block boundaries fall
        // inside characters, and inside pairs, many times.
        var text = "email,note,segment_id\n"
        var expected: [String] = []
        for index in 0..<20_000 {
            let email = "person\(index)@example.com"
            text += "\(email),\(String(repeating: "😀é", count: index % 6 + 1)),123456\n"
            expected.append(sha256Hex(email))
        }
        let plain = try readAll(try directory.write("plain.csv", text))
        let (summary, changes) = try readAll(try directory.write("wide.csv", bytes: Self.utf16(text)))
        #expect(summary.rowsRead == 20_000)
        #expect(summary.rowsRejected == 0)
        #expect(changes.map(\.2) == expected)
        #expect(changes.map(\.2) == plain.1.map(\.2), "the same rows as the UTF-8 file")
        let (gzipped, _) = try readAll(try directory.write("wide.csv.gz", bytes: gzip(Self.utf16(text, bigEndian: true))))
        #expect(gzipped.rowsRead == 20_000, "a gzip'd UTF-16 file is decoded after decompression")
    }

    @Test("broken UTF-16 is rejected with the reason, not read as text")
    func brokenUTF16() throws {
        let directory = try TemporaryDirectory()
        let odd = Self.utf16("email,segment_id\r\na@b.co,1\r\n") + [0x41]
        #expect(throws: AudienceFileError.self) { try readAll(try directory.write("odd.csv", bytes: odd)) }
        do {
            _ = try readAll(try directory.write("odd.csv", bytes: odd))
        } catch let error as AudienceFileError {
            #expect(error.kind == .badUTF16)
            #expect(error.description.contains("odd number of bytes"))
        }
        // A high surrogate followed by a comma.
        var lone = Self.utf16("email,segment_id\r\na@b.co,1")
        lone += [0x3D, 0xD8, 0x2C, 0x00] + Self.utf16("\r\n", mark: false)
        do {
            _ = try readAll(try directory.write("lone.csv", bytes: lone))
            Issue.record("a lone surrogate was read")
        } catch let error as AudienceFileError {
            #expect(error.kind == .badUTF16)
        }
    }

    @Test("semicolon-separated, as Excel writes CSV UTF-8 where the list separator is ;")
    func semicolons() throws {
        let directory = try TemporaryDirectory()
        let text = "\u{FEFF}Email;Phone;Segment_ID;Action;Notiz\r\n"
            + "alice@example.com;+49 30 1234567;123456;add;\"Straße; 1\"\r\n"
            + "bob@example.com;;654321;remove;\r\n"
        let (summary, changes) = try readAll(try directory.write("liste.csv", text))
        #expect(summary.delimiter == .semicolon)
        #expect(summary.rowsRejected == 0)
        #expect(changes.map(\.0) == ["123456", "123456", "654321"])
        #expect(changes.map(\.2) == [alice, sha256Hex("49301234567"), bob])
        #expect(changes.map(\.3) == [.add, .add, .remove])
        // A comma header with a semicolon inside a quoted name stays comma-separated.
        let (commas, _) = try readAll(try directory.write("c.csv", "email_hash,\"a;b\",segment_id\n\(alice),x,1\n"))
        #expect(commas.delimiter == .comma)
    }

    @Test("an upload is complete when its last line ends, in its own encoding")
    func readinessOfUTF16Files() throws {
        let directory = try TemporaryDirectory()
        let whole = try directory.write("whole.txt", bytes: Self.excelUnicodeText([["email", "segment_id"], ["a@b.co", "1"]]))
        #expect(FileReadiness.endsWithNewline(whole))
        let cut = try directory.write("cut.txt", bytes: Self.utf16("email\tsegment_id\r\na@b.co\t1"))
        #expect(!FileReadiness.endsWithNewline(cut))
        let big = try directory.write("big.txt", bytes: Self.utf16("email,segment_id\n", bigEndian: true))
        #expect(FileReadiness.endsWithNewline(big))
        let utf8 = try directory.write("plain.csv", "email,segment_id\n")
        #expect(FileReadiness.endsWithNewline(utf8))
    }
}
