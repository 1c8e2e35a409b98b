import Crypto
import Foundation
import Testing
import TestFixtures
@testable import AudienceInbox
@testable import AudienceModel
@testable import AudienceReading
import AudienceInbox
import AudienceModel
import AudienceReading


/// Hostile and broken input for the reader: a generated corpus of several hundred files (mutations
/// of valid files and hand-made oddities), each of which must either read with a sane summary or
/// be refused with an `AudienceFileError` that says why; plus files that change while being read,
/// and things that are not regular files, which must be refused without being opened.
@Suite("Hostile input: every file is answered with a reason", .timeLimit(.minutes(2)))
struct HostileInputTests {

    @Test("a generated corpus of at least 500 hostile files: each reads sanely or is refused with a reason")
    func corpus() throws {
        let directory = try TemporaryDirectory()
        let corpus = HostileCorpus.make()
        #expect(corpus.count >= 500, "only \(corpus.count) files")
        var perCategory: [String: (files: Int, read: Int, refused: [AudienceFileError.Kind: Int])] = [:]
        var slowest = (seconds: 0.0, name: "")
        for (index, entry) in corpus.enumerated() {
            let path = try directory.write(String(format: "%04d-", index) + entry.name, bytes: entry.bytes)
            var options = ReadingOptions()
            options.maximumDecompressedBytes = entry.maximumDecompressedBytes
            options.maximumListedRejections = 20
            let started = Date()
            let outcome = HostileOutcome(path: path, options: options)
            let seconds = Date().timeIntervalSince(started)
            if seconds > slowest.seconds { slowest = (seconds, entry.name) }
            try? FileManager.default.removeItem(atPath: path)
            var tally = perCategory[entry.category, default: (0, 0, [:])]
            tally.files += 1
            let where_ = "\(entry.category) #\(index) \(entry.name)"
            switch outcome {
            case .read(let summary, let changes):
                tally.read += 1
                checkSane(summary, changes, listed: 20, where_)
                switch entry.expectation {
                case .refused(let kinds):
                    Issue.record("\(where_): read (\(summary.rowsRead) rows) but should be refused as one of \(kinds.map(\.rawValue))")
                case .readsAs(let rowsRead, let expectedChanges):
                    #expect(changes == expectedChanges, "\(where_): a file that reads must read as the original")
                    #expect(summary.rowsRead == rowsRead, "\(where_)")
                case .anything, .reads:
                    break
                }
            case .refused(let error):
                tally.refused[error.kind, default: 0] += 1
                #expect(!error.description.isEmpty && !error.detail.isEmpty, "\(where_): a refusal must say why")
                #expect(error.line.map { $0 >= 1 } ?? true, "\(where_): \(error)")
                #expect(error.kind != .changedWhileReading, "\(where_): nothing changed the file: \(error)")
                switch entry.expectation {
                case .refused(let kinds):
                    #expect(kinds.contains(error.kind), "\(where_): refused as \(error.kind.rawValue) (\(error)); expected one of \(kinds.map(\.rawValue))")
                case .reads:
                    Issue.record("\(where_): should read but was refused: \(error)")
                case .readsAs, .anything:
                    // A corrupted gzip may also decode to bytes that are refused before its CRC is reached.
                    break
                }
            case .crashed(let error):
                Issue.record("\(where_): threw something that is not an AudienceFileError: \(error)")
            }
            perCategory[entry.category] = tally
        }
        #expect(slowest.seconds < 5, "the slowest file took \(slowest.seconds) s: \(slowest.name)")
        var lines = ["hostile corpus: \(corpus.count) files; slowest \(String(format: "%.3f", slowest.seconds)) s (\(slowest.name))"]
        for (category, tally) in perCategory.sorted(by: { $0.key < $1.key }) {
            let refused = tally.refused.sorted { $0.key.rawValue < $1.key.rawValue }.map { "\($0.key.rawValue) \($0.value)" }
            lines.append("  \(category): \(tally.files) files, \(tally.read) read, refused: \(refused.joined(separator: ", "))")
        }
        print(lines.joined(separator: "\n"))
    }

    // MARK: Files that change while being read

    @Test("a file appended to after it was opened is refused as changed, to be read again")
    func appendedAfterOpening() throws {
        let directory = try TemporaryDirectory()
        let path = try directory.write("growing.csv", HostileCorpus.snapshotText(rows: 5))
        try ageFile(path)
        let reader = try AudienceFileReader(path: path)
        let handle = try #require(FileHandle(forWritingAtPath: path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("\(sha256Hex("late@example.com")),123456\n".utf8))
        try handle.close()
        #expect(kind { _ = try reader.read { _ in } } == .changedWhileReading)
    }

    /// Changes made from inside the visitor, that is in the middle of reading a file larger than
    /// the reader's 1 MiB buffer, must all end in `changedWhileReading`: whatever the partial read
    /// looked like (cut mid-row, NUL bytes, a truncated gzip), the file is looked at again later
    /// rather than rejected for good.
    @Test(
        "a file truncated, emptied, extended or overwritten while being read is refused as changed",
        arguments: ["truncate-half", "truncate-empty", "append", "overwrite-nul", "overwrite-text", "gzip-truncate"])
    func changedDuringRead(_ change: String) throws {
        let directory = try TemporaryDirectory()
        let text = HostileCorpus.bigSnapshot
        let isGzip = change.hasPrefix("gzip")
        // A gzip is read 256 KiB of compressed data at a time; make it big enough to be cut mid-way.
        let bytes = isGzip ? gzip(Array(text.utf8), level: 0) : Array(text.utf8)
        let path = try directory.write(isGzip ? "big.csv.gz" : "big.csv", bytes: bytes)
        try ageFile(path)
        let reader = try AudienceFileReader(path: path)
        var changed = false
        let outcome = kind {
            _ = try reader.read { _ in
                guard !changed else { return }
                changed = true
                let descriptor = open(path, O_WRONLY | O_CLOEXEC)
                defer { close(descriptor) }
                switch change {
                case "truncate-half", "gzip-truncate": ftruncate(descriptor, off_t(bytes.count / 2))
                case "truncate-empty": ftruncate(descriptor, 0)
                case "append": _ = pwrite(descriptor, "x,1\n", 4, off_t(bytes.count))
                case "overwrite-nul":
                    let zeros = [UInt8](repeating: 0, count: bytes.count / 2)
                    _ = pwrite(descriptor, zeros, zeros.count, off_t(bytes.count / 2))
                default:
                    let quote = [UInt8](repeating: UInt8(ascii: "\""), count: 16)
                    _ = pwrite(descriptor, quote, quote.count, off_t(bytes.count - 100))
                }
            }
        }
        #expect(changed, "the visitor ran")
        #expect(outcome == .changedWhileReading, "\(change): \(String(describing: outcome))")
    }

    @Test("a file replaced by a new upload under the same name is read as it was opened, and the move leaves the new one")
    func replacedWhileReading() throws {
        let directory = try TemporaryDirectory()
        let inbox = directory.path + "/inbox"
        let path = try directory.write("inbox/same-name.csv", HostileCorpus.snapshotText(rows: 3))
        let reader = try AudienceFileReader(path: path)
        let fingerprint = try reader.fingerprint()
        // The new upload lands under a temporary name and is renamed over the one being read.
        let replacement = try directory.write("inbox/.same-name.csv.part", HostileCorpus.snapshotText(rows: 7, first: 100))
        #expect(rename(replacement, path) == 0)
        var members = 0
        let summary = try reader.read { _ in members += 1 }
        #expect(summary.rowsRead == 3 && members == 3, "the reader reads the file it opened, whole")
        #expect(try reader.fingerprint() == fingerprint)
        #expect(FileIdentity(path: path) != reader.identity, "the name now holds another file")
        let moved = try Self.archiveAsRead(path, in: directory, reader)
        #expect(moved == nil, "the new upload is not archived in place of the one that was read")
        #expect(FileManager.default.fileExists(atPath: inbox + "/same-name.csv"))
    }

    @Test("rows appended after the file was read keep it in the inbox: the move finds it is not the file that was read")
    func appendedAfterReading() throws {
        let directory = try TemporaryDirectory()
        let inbox = directory.path + "/inbox"
        let path = try directory.write("inbox/growing.csv", HostileCorpus.snapshotText(rows: 3))
        let reader = try AudienceFileReader(path: path)
        _ = try reader.read { _ in }
        // The partner's upload goes on after the plan was written: same inode, more bytes.
        let handle = try #require(FileHandle(forWritingAtPath: path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(HostileCorpus.snapshotText(rows: 2, first: 50).utf8.dropFirst(40)))
        try handle.close()
        #expect(try Self.archiveAsRead(path, in: directory, reader) == nil)
        #expect(FileManager.default.fileExists(atPath: inbox + "/growing.csv"), "it waits for the next pass, whole")
    }

    /// Archives the inbox file at `path` only if it is still the one `reader` read.
    static func archiveAsRead(_ path: String, in directory: TemporaryDirectory, _ reader: AudienceFileReader) throws -> String? {
        let mover = FileMover(stateDirectory: directory.path + "/state")
        let name = (path as NSString).lastPathComponent
        let file = InboxFile(path: path, relativePath: name, partner: nil, size: reader.size, modified: 0, kind: .regular)
        // As the intake does: the file moves only if its path still names what was read.
        guard FileIdentity(path: path) == reader.identity else { return nil }
        let destination = try mover.freeName(for: file, in: .archive, suffix: "x")
        try mover.move(file, to: destination)
        return destination
    }

    @Test("a file deleted while being read is read whole from the open descriptor")
    func deletedWhileReading() throws {
        let directory = try TemporaryDirectory()
        let path = try directory.write("gone.csv", HostileCorpus.snapshotText(rows: 20_000))
        let reader = try AudienceFileReader(path: path)
        var deleted = false
        var members = 0
        let summary = try reader.read { _ in
            if !deleted { deleted = unlink(path) == 0 }
            members += 1
        }
        #expect(deleted)
        #expect(summary.rowsRead == 20_000 && members == 20_000)
        #expect(FileIdentity(path: path) == nil)
    }

    // MARK: Things that are not regular files

    @Test("FIFOs, devices, sockets, symlinks and directories named *.csv are refused without being opened")
    func notRegularFilesAreNeverOpened() throws {
        let directory = try TemporaryDirectory()
        let outside = try TemporaryDirectory()
        let target = try outside.write("target.csv", HostileCorpus.snapshotText(rows: 2))
        let inside = try directory.write("inside.csv", HostileCorpus.snapshotText(rows: 2))
        var entries: [(String, String)] = []  // (path, keyword expected in the reason)
        let fifo = directory.path + "/pipe.csv"
        #expect(mkfifo(fifo, 0o666) == 0)
        entries.append((fifo, "not a regular file"))
        let device = directory.path + "/null.csv"
        if mknod(device, S_IFCHR | 0o666, dev_t((1 << 8) | 3)) == 0 {
            entries.append((device, "not a regular file"))
        } else {
            print("mknod is not permitted here; the character device case is skipped")
        }
        let socketPath = directory.path + "/socket.csv"
        if bindUnixSocket(at: socketPath) { entries.append((socketPath, "not a regular file")) }
        let outsideLink = directory.path + "/outside-link.csv"
        let insideLink = directory.path + "/inside-link.csv"
        let chain = directory.path + "/chain.csv"
        let dangling = directory.path + "/dangling.csv"
        try FileManager.default.createSymbolicLink(atPath: outsideLink, withDestinationPath: target)
        try FileManager.default.createSymbolicLink(atPath: insideLink, withDestinationPath: "inside.csv")
        try FileManager.default.createSymbolicLink(atPath: chain, withDestinationPath: "inside-link.csv")
        try FileManager.default.createSymbolicLink(atPath: dangling, withDestinationPath: "/nonexistent/file.csv")
        entries += [(outsideLink, "symbolic link"), (insideLink, "symbolic link"), (chain, "symbolic link"), (dangling, "symbolic link")]
        let folder = directory.path + "/folder.csv"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false)
        entries.append((folder, "not a regular file"))
        let gzFolder = directory.path + "/folder.csv.gz"
        try FileManager.default.createDirectory(atPath: gzFolder, withIntermediateDirectories: false)
        entries.append((gzFolder, "not a regular file"))

        let watcher = try OpenWatcher(paths: entries.map(\.0) + [target, inside])
        // Opening a FIFO, even without blocking, would release a writer waiting on it; opening a
        // device can have effects of its own. inotify sees any open, blocking or not.
        for (path, keyword) in entries {
            do {
                _ = try AudienceFileReader(path: path)
                Issue.record("\(path) was accepted")
            } catch let error as AudienceFileError {
                #expect(error.kind == .notRegularFile, "\(path): \(error)")
                #expect(error.description.contains(keyword), "\(path): \(error.description)")
            }
        }
        let opened = watcher.openedPaths()
        #expect(opened.isEmpty, "opened: \(opened)")
    }

    /// `cat`-ing gzip members is legal, so an upload can be thousands of members of one byte each.
    /// If each member reached the CSV tokenizer as a separate one-byte read, a long line would be
    /// parsed again from its start after every byte: quadratic, hours for a 1 MiB line.
    @Test("a long line split into thousands of one-byte gzip members is read in bounded time")
    func tinyGzipMembers() throws {
        let directory = try TemporaryDirectory()
        let one = gzip(Array("a".utf8))
        var bytes = gzip(Array("email_hash,segment_id\n".utf8))
        bytes.reserveCapacity(bytes.count + one.count * 200_000 + 64)
        for _ in 0..<200_000 { bytes += one }
        bytes += gzip(Array(",123456\n\(sha256Hex("tiny@example.com")),123456\n".utf8))
        let path = try directory.write("tiny-members.csv.gz", bytes: bytes)
        let started = ContinuousClock.now
        let (summary, changes) = try readAll(path)
        let elapsed = ContinuousClock.now - started
        #expect(summary.rowsRead == 2 && summary.rowsRejected == 1 && changes.count == 1)
        #expect(elapsed < .seconds(10), "took \(elapsed)")
    }

    @Test("a gzip whose first member is a lone newline does not hide a byte-order mark from the header check")
    func byteOrderMarkOnlyAtTheStart() throws {
        let directory = try TemporaryDirectory()
        let rest = Array("\u{FEFF}email_hash,segment_id\n\(sha256Hex("a@example.com")),123456\n".utf8)
        let plain = try directory.write("plain.csv", bytes: Array("\n".utf8) + rest)
        let split = try directory.write("split.csv.gz", bytes: gzip(Array("\n".utf8)) + gzip(rest))
        let whole = try directory.write("whole.csv.gz", bytes: gzip(Array("\n".utf8) + rest))
        #expect(kind { _ = try readAll(plain) } == .noHeader)
        #expect(kind { _ = try readAll(whole) } == .noHeader)
        #expect(kind { _ = try readAll(split) } == .noHeader, "the same bytes must read the same however gzip split them")
        // And a byte-order mark that gzip members split in two is still one at the start.
        let bom = Array("\u{FEFF}".utf8)
        let pieces = try directory.write(
            "bom-split.csv.gz", bytes: gzip(Array(bom[..<1])) + gzip(Array(bom[1...]) + Array(rest[3...])))
        let (summary, changes) = try readAll(pieces)
        #expect(summary.rowsRead == 1 && changes.count == 1)
    }
}

// MARK: - Outcome and checks

private enum HostileOutcome {
    case read(ReadSummary, [HostileChange])
    case refused(AudienceFileError)
    case crashed(any Error)

    init(path: String, options: ReadingOptions) {
        do {
            let reader = try AudienceFileReader(path: path, options: options)
            var changes: [HostileChange] = []
            let summary = try reader.read { change in
                changes.append(HostileChange(
                    segment: reader.segments[Int(change.segment)].rawValue, member: change.member, action: change.action,
                    line: change.line))
            }
            self = .read(summary, changes)
        } catch let error as AudienceFileError {
            self = .refused(error)
        } catch {
            self = .crashed(error)
        }
    }
}

struct HostileChange: Equatable {
    var segment: String
    var member: Member
    var action: MembershipAction
    var line: Int32
}

private func checkSane(_ summary: ReadSummary, _ changes: [HostileChange], listed: Int, _ where_: String) {
    #expect(summary.rowsRead >= 0 && summary.rowsRejected >= 0 && summary.rowsRejected <= summary.rowsRead, "\(where_)")
    #expect(summary.membersRead == changes.count, "\(where_)")
    #expect(summary.rejectionCounts.values.reduce(0, +) == summary.rowsRejected, "\(where_)")
    #expect(summary.rejections.count == min(summary.rowsRejected, listed), "\(where_)")
    #expect(summary.rowsRead - summary.rowsRejected <= changes.count, "\(where_): every accepted row has a member")
    for rejection in summary.rejections {
        #expect(rejection.line >= 2, "\(where_): rejection at line \(rejection.line)")
        #expect(!rejection.detail.isEmpty && !rejection.reason.advice.isEmpty, "\(where_)")
    }
    #expect(zip(summary.rejections, summary.rejections.dropFirst()).allSatisfy { $0.line < $1.line }, "\(where_)")
    #expect(changes.allSatisfy { $0.line >= 2 && SegmentID($0.segment) != nil }, "\(where_)")
    #expect(zip(changes, changes.dropFirst()).allSatisfy { $0.line <= $1.line }, "\(where_)")
    if !summary.isDelta { #expect(changes.allSatisfy { $0.action == .add }, "\(where_)") }
}

/// The kind of `AudienceFileError` the body throws; nil when it does not throw one.
private func kind(_ body: () throws -> Void) -> AudienceFileError.Kind? {
    do {
        try body()
        return nil
    } catch let error as AudienceFileError {
        return error.kind
    } catch {
        return nil
    }
}

/// Sets a file's modification time an hour back, so that any later write surely changes it.
private func ageFile(_ path: String) throws {
    try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(-3600)], ofItemAtPath: path)
}

// MARK: - The corpus

struct HostileEntry {
    enum Expectation {
        /// Any outcome, as long as it is sane.
        case anything
        /// Must be refused, as one of these kinds.
        case refused(Set<AudienceFileError.Kind>)
        /// Must read.
        case reads
        /// Either refused as corrupt or truncated gzip, or read exactly as this (a gzip's CRC protects its data).
        case readsAs(rowsRead: Int, changes: [HostileChange])
    }

    var category: String
    var name: String
    var bytes: [UInt8]
    var expectation: Expectation
    var maximumDecompressedBytes: Int64 = 1 << 20
}

enum HostileCorpus {
    static func hash(_ index: Int) -> String { hex(digest(index)) }

    static func digest(_ index: Int) -> [UInt8] { Array(SHA256.hash(data: Array("user\(index)@example.com".utf8))) }

    /// Lowercase hex, without `String(format:)`, which is slow enough on Linux to matter here.
    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// About 2.8 MB: larger than the reader's 1 MiB buffer, so that it is read in several reads.
    static let bigSnapshot = snapshotText(rows: 40_000)

    static func snapshotText(rows: Int, first: Int = 0) -> String {
        var text = "email_hash,segment_id\n"
        text.reserveCapacity(rows * 80 + 32)
        for index in first..<(first + rows) { text += hash(index) + ",123456\n" }
        return text
    }

    /// Valid files of every shape the reader accepts: the seeds that mutations start from.
    static let bases: [(name: String, text: String)] = [
        ("snapshot", snapshotText(rows: 12)),
        (
            "delta-tab-crlf-bom",
            "\u{FEFF}segment_id\taction\temail\tphone\tnote\r\n"
                + (0..<8).map { "123456\t\($0 % 3 == 0 ? "remove" : "add")\tJosé.Núñez\($0)@Example.com\t+1 (415) 555-01\(10 + $0)\tcafé ☕ 𝄞 \($0)\r\n" }
                .joined()
        ),
        (
            "quoted",
            "\"email_hash\",\"segment_id\",\"note\"\n"
                + (0..<8).map { "\"\(hash($0).uppercased())\",\"654321\",\"said \"\"hi\"\", then\nleft, \($0)\"\n" }.joined()
        ),
        (
            "pipe-maid",
            "maid|maid_type|segment_id|action|email_hash\n"
                + (0..<8).map { index in
                    "5f3a2b18-9c4d-4e7f-b8e2-\(String(format: "%012x", index + 1))|\(index % 2 == 0 ? "idfa" : "aaid")|123456|add|\(index % 3 == 0 ? hash(index) : "")\n"
                }.joined()
        ),
    ]

    static func make() -> [HostileEntry] {
        var random = SeededRandom(state: 20_261_125)
        var corpus: [HostileEntry] = []
        func add(_ category: String, _ name: String, _ bytes: [UInt8], _ expectation: HostileEntry.Expectation = .anything) {
            corpus.append(HostileEntry(category: category, name: name, bytes: bytes, expectation: expectation))
        }
        let special = Set("\r\n\",\t|".utf8)
        let refusedText: Set<AudienceFileError.Kind> = [.notUTF8]

        for (baseName, text) in bases {
            let bytes = Array(text.utf8)
            add("valid", "\(baseName).csv", bytes, .reads)

            // Truncation at every kind of boundary: around delimiters, quotes, line ends, inside
            // multi-byte characters and the byte-order mark, and the very start and end.
            var boundaries = Set([0, 1, 2, 3, bytes.count - 1, bytes.count - 2])
            for index in 1..<bytes.count where special.contains(bytes[index - 1]) || special.contains(bytes[index]) || bytes[index] >= 0x80 {
                boundaries.insert(index)
            }
            let sorted = boundaries.filter { $0 >= 0 && $0 < bytes.count }.sorted()
            let stride = max(1, sorted.count / 36)
            for index in Swift.stride(from: 0, to: sorted.count, by: stride) {
                let cut = sorted[index]
                add("truncated", "\(baseName)-cut-\(cut).csv", Array(bytes[..<cut]))
            }

            for round in 0..<15 {
                var mutated = bytes
                for _ in 0..<(1 + round % 4) {
                    let at = Int.random(in: 0..<mutated.count, using: &random)
                    mutated[at] = round % 2 == 0 ? UInt8.random(in: 0...255, using: &random) : mutated[at] ^ (1 << UInt8(round % 8))
                }
                add("byte-flipped", "\(baseName)-flip-\(round).csv", mutated)
            }

            let interesting: [UInt8] = [0x00, 0x22, 0x0D, 0x0A, 0x2C, 0x09, 0x7C, 0x80, 0xC3, 0xFF, 0xEF, 0x20]
            for round in 0..<10 {
                var mutated = bytes
                for _ in 0..<(1 + round % 3) {
                    let at = Int.random(in: 0...mutated.count, using: &random)
                    let byte = round < 6 ? interesting[(round * 7 + at) % interesting.count] : UInt8.random(in: 0...255, using: &random)
                    mutated.insert(byte, at: at)
                }
                add("byte-inserted", "\(baseName)-insert-\(round).csv", mutated)
            }

            for at in [0, 5, bytes.count / 2, bytes.count - 2, bytes.count] {
                var mutated = bytes
                mutated.insert(0, at: min(at, mutated.count))
                add("nul", "\(baseName)-nul-at-\(at).csv", mutated, .refused([.binary]))
            }
        }

        // Invalid UTF-8, each sequence in the header, in a row and cut off by the end of the file.
        let invalid: [(String, [UInt8])] = [
            ("lone-continuation", [0x80]), ("overlong-slash", [0xC0, 0xAF]), ("overlong-nul", [0xC0, 0x80]),
            ("overlong-3", [0xE0, 0x80, 0xAF]), ("surrogate", [0xED, 0xA0, 0x80]), ("above-10ffff", [0xF4, 0x90, 0x80, 0x80]),
            ("f5", [0xF5, 0x80, 0x80, 0x80]), ("five-byte", [0xF8, 0x88, 0x80, 0x80, 0x80]), ("fe", [0xFE]), ("ff", [0xFF]),
            ("latin1-e9", [0xE9, 0x74, 0xE9]), ("cut-3-byte", [0xE2, 0x82]), ("cut-4-byte", [0xF0, 0x9F, 0x98]),
            ("utf16-surrogate-as-utf8", [0xED, 0xB0, 0x80]),
        ]
        let snapshot = Array(bases[0].text.utf8)
        for (name, sequence) in invalid {
            add("invalid-utf8", "header-\(name).csv", Array("email_hash,segm".utf8) + sequence + Array("ent_id\n".utf8) + snapshot, .refused(refusedText))
            add("invalid-utf8", "row-\(name).csv", Array(snapshot[..<100]) + sequence + Array(snapshot[100...]), .refused(refusedText))
            add("invalid-utf8", "end-\(name).csv", snapshot + sequence, .refused(refusedText))
        }
        // Valid but unusual UTF-8 must not be mistaken for invalid.
        for (name, scalar) in [("max-scalar", "\u{10FFFF}"), ("replacement", "\u{FFFD}"), ("zwj", "👩‍👩‍👧"), ("bom-in-row", "\u{FEFF}"), ("e000", "\u{E000}"), ("d7ff", "\u{D7FF}")] {
            add("valid-utf8", "\(name).csv", Array("email_hash,segment_id,note\n\(hash(1)),123456,\(scalar)\n".utf8), .reads)
        }

        // Lines around and over the 1 MiB bound.
        let megabyte = 1 << 20
        let header = "email_hash,segment_id\n"
        add("long-line", "header-over-1mib.csv", Array(("email_hash," + String(repeating: "x", count: megabyte) + ",segment_id\n").utf8), .refused([.lineTooLong]))
        add("long-line", "row-over-1mib.csv", Array((header + String(repeating: "a", count: megabyte + 10) + ",1\n").utf8), .refused([.lineTooLong]))
        add("long-line", "row-just-under-1mib.csv", Array((header + String(repeating: "a", count: megabyte - 100) + ",1\n").utf8), .reads)
        add("long-line", "quoted-newlines-over-1mib.csv", Array((header + "\"" + String(repeating: "ab\n", count: megabyte / 3 + 10) + "\",1\n").utf8), .refused([.lineTooLong]))
        add("long-line", "no-newline-at-all-1mib.csv", [UInt8](repeating: UInt8(ascii: "e"), count: megabyte + 1), .refused([.lineTooLong]))
        add("long-line", "rows-across-the-buffer.csv", Array(snapshotText(rows: 20_000).utf8), .reads)

        // Thousands of columns.
        let wide = (0..<5000).map { $0 == 0 ? "segment_id" : $0 == 4999 ? "email_hash" : "c\($0)" }.joined(separator: ",")
        let wideRow = (0..<5000).map { $0 == 0 ? "123456" : $0 == 4999 ? hash(7) : "v" }.joined(separator: ",")
        add("many-columns", "5000-columns.csv", Array((wide + "\n" + wideRow + "\n" + wideRow + "\n").utf8), .reads)
        add("many-columns", "5000-columns-short-row.csv", Array((wide + "\n" + wideRow.dropLast(66) + "\n").utf8), .reads)
        add("many-columns", "5000-columns-no-identifier.csv", Array(((0..<5000).map { "c\($0)" }.joined(separator: ",") + ",segment_id\n").utf8), .refused([.noIdentifierColumn]))
        add("many-columns", "100000-empty-header-fields.csv", Array(("email_hash,segment_id" + String(repeating: ",", count: 100_000) + "\n").utf8), .reads)
        add("many-columns", "500000-delimiters-in-a-row.csv", Array((header + String(repeating: ",", count: 500_000) + "\n" + hash(1) + ",1\n").utf8), .reads)
        add("many-columns", "500000-tabs-in-header.csv", Array(("email_hash\tsegment_id" + String(repeating: "\t", count: 500_000) + "\n").utf8), .reads)

        // Duplicate header names, in every disguise.
        for (index, names) in [
            "email_hash,segment_id,email_hash", "EMAIL_HASH,segment_id,email_hash", "email_hash, segment_id ,segment_id",
            "email_hash,segment_id,action,Action", "maid,maid,segment_id", "phone,segment_id,\tphone\t",
            "email,segment_id,maid_type,MAID_TYPE,maid", "\"email_hash\",segment_id,\"email_hash\"",
            "email_hash\tsegment_id\tEmail_Hash", "email_hash|segment_id|segment_id|action",
        ].enumerated() {
            add("duplicate-header", "dup-\(index).csv", Array((names + "\n" + hash(1) + ",1\n").utf8), .refused([.duplicateColumn]))
        }

        // Byte-order marks.
        let body = Array((header + hash(2) + ",123456\n").utf8)
        add("bom", "utf8-bom.csv", [0xEF, 0xBB, 0xBF] + body, .reads)
        add("bom", "double-utf8-bom.csv", [0xEF, 0xBB, 0xBF, 0xEF, 0xBB, 0xBF] + body, .refused([.noIdentifierColumn]))
        add("bom", "bom-only.csv", [0xEF, 0xBB, 0xBF], .refused([.empty]))
        add("bom", "bom-newline.csv", [0xEF, 0xBB, 0xBF, 0x0A], .refused([.noHeader]))
        add("bom", "half-bom.csv", [0xEF, 0xBB] + body, .refused(refusedText))
        // UTF-16 (Excel's "Unicode Text", pandas' utf-16) is decoded: it reads exactly as the UTF-8 body.
        let bodyReads = HostileEntry.Expectation.readsAs(rowsRead: 1, changes: [
            HostileChange(
                segment: "123456", member: Member(type: .emailSHA256, digest: digest(2).withUnsafeBytes { Digest32(bytes: $0) }),
                action: .add, line: 2),
        ])
        add("bom", "utf16le.csv", [0xFF, 0xFE] + Array(String(decoding: body, as: UTF8.self).utf16).flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }, bodyReads)
        add("bom", "utf16be.csv", [0xFE, 0xFF] + Array(String(decoding: body, as: UTF8.self).utf16).flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }, bodyReads)
        add("bom", "utf16le-no-bom.csv", Array(String(decoding: body, as: UTF8.self).utf16).flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }, bodyReads)
        add("bom", "utf16le-odd-byte.csv", [0xFF, 0xFE] + Array(String(decoding: body, as: UTF8.self).utf16).flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] } + [0x41], .refused([.badUTF16]))
        add("bom", "utf32le.csv", [0xFF, 0xFE, 0x00, 0x00] + body.flatMap { [$0, 0, 0, 0] }, .refused(refusedText.union([.binary])))
        add("bom", "bom-after-newline.csv", [0x0A, 0xEF, 0xBB, 0xBF] + body, .refused([.noHeader]))

        // Line ends.
        let headerLine: String = String(header.dropLast())
        let rows: [String] = [headerLine, hash(3) + ",123456", hash(4) + ",654321"]
        add("line-ends", "cr-only.csv", Array((rows.joined(separator: "\r") + "\r").utf8), .reads)
        add("line-ends", "crlf.csv", Array((rows.joined(separator: "\r\n") + "\r\n").utf8), .reads)
        add("line-ends", "lfcr.csv", Array((rows.joined(separator: "\n\r") + "\n\r").utf8), .reads)
        add("line-ends", "mixed.csv", Array((rows[0] + "\r" + rows[1] + "\n" + rows[2] + "\r\n").utf8), .reads)
        add("line-ends", "no-final-newline.csv", Array(rows.joined(separator: "\n").utf8), .reads)
        add("line-ends", "blank-lines.csv", Array((rows[0] + "\n\n\n" + rows[1] + "\r\n\r\n" + rows[2] + "\n\n").utf8), .reads)
        add("line-ends", "form-feed-and-vtab.csv", Array((rows[0] + "\u{0C}\n" + rows[1] + "\u{0B}\n").utf8))
        add("line-ends", "only-line-ends.csv", Array("\r\n\r\n\n\r\r".utf8), .refused([.noHeader]))

        // Quotes, balanced and not.
        for (index, text) in [
            "\"email_hash,segment_id\n\(hash(1)),1\n", "email_hash,segment_id\n\"\(hash(1)),1\n", "email_hash,segment_id\n\(hash(1)),\"1\n",
            "email_hash,segment_id\n\(hash(1)),1\n\"", "email_hash,segment_id\n\"\(hash(1))\"x,1\n", "email_hash,segment_id\n\"\(hash(1))\" ,1\n",
            "email_hash,segment_id\n\"\"\"\",1\n", "email_hash,segment_id\n\"\(hash(1))\"\"\",1\n", "email_hash,segment_id\n\(hash(1))\",1\n",
            "email_hash,segment_id\n\"\",\"\"\n", "\"email_hash\"\"\",segment_id\n", "email_hash,\"segment_id\n\(hash(1)),1\n",
            "email_hash,segment_id\n\"" + String(repeating: "\"\"", count: 10_000) + "\n", "email_hash,segment_id\n\"\r\n\r\n\",1\n",
            "email_hash,segment_id\n" + String(repeating: "\"", count: 10_001) + "\n",
        ].enumerated() {
            add("quotes", "quotes-\(index).csv", Array(text.utf8))
        }

        // Files with nothing to read.
        for (name, text, kinds) in [
            ("empty.csv", "", [AudienceFileError.Kind.empty]), ("newline.csv", "\n", [.noHeader]), ("crlf.csv", "\r\n", [.noHeader]),
            ("spaces.csv", "   \n", [.noIdentifierColumn]), ("header-only.csv", header, nil), ("header-no-newline.csv", "email_hash,segment_id", nil),
            ("header-blank-lines.csv", header + "\n\n\n", nil), ("comma.csv", ",\n", [.noIdentifierColumn]),
            ("just-a-word.csv", "hello", [.noIdentifierColumn]), ("delimiters-only.csv", ",,,\n,,,\n", [.noIdentifierColumn]),
            ("header-only-tab.csv", "segment_id\tmaid\taction\n", nil), ("header-only-pipe.csv", "phone|segment_id", nil),
        ] as [(String, String, [AudienceFileError.Kind]?)] {
            if let kinds {
                add("nothing-to-read", name, Array(text.utf8), .refused(Set(kinds)))
            } else {
                add("nothing-to-read", name, Array(text.utf8), .reads)
            }
        }
        for (index, text) in [
            "name,segment_id\nx,1\n", "segment_id\n1\n", "emailhash,segment_id\n", "e-mail,segment_id\n", "hash,segment\n", "email_sha256,audience_id\n",
        ].enumerated() {
            add("no-identifier-column", "no-id-\(index).csv", Array(text.utf8), .refused([.noIdentifierColumn]))
        }
        for (index, text) in ["email_hash\n\(hash(1))\n", "email_hash,segment\n", "maid,segmentid\n", "phone,audience_id,action\n"].enumerated() {
            add("no-segment-column", "no-segment-\(index).csv", Array(text.utf8), .refused([.noSegmentColumn]))
        }

        // Random garbage, binary and printable, and almost-CSV.
        for round in 0..<30 {
            let count = Int.random(in: 1...4096, using: &random)
            add("garbage", "binary-\(round).csv", (0..<count).map { _ in UInt8.random(in: 0...255, using: &random) })
        }
        let alphabet = Array("abcxyz019,,,\t|\"\r\n\n ".utf8)
        for round in 0..<20 {
            let count = Int.random(in: 1...2048, using: &random)
            add("garbage", "printable-\(round).csv", (0..<count).map { _ in alphabet.randomElement(using: &random)! })
        }
        for round in 0..<10 {
            let rowsText = (0..<20).map { _ in String(decoding: (0..<Int.random(in: 0...90, using: &random)).map { _ in alphabet.randomElement(using: &random)! }, as: UTF8.self) }
            add("garbage", "almost-csv-\(round).csv", Array(("email_hash,segment_id,action\n" + rowsText.joined(separator: "\n")).utf8))
        }

        // Gzip: truncated at many offsets, corrupted, garbage inside, garbage after, bombs.
        let gzText = snapshotText(rows: 200)
        let gzBytes = gzip(Array(gzText.utf8))
        let original = readSnapshotChanges(rows: 200)
        add("gzip", "valid.csv.gz", gzBytes, .reads)
        var offsets = Set(0..<20).union((1...12).map { gzBytes.count - $0 })
        for index in 0..<30 { offsets.insert(20 + index * (gzBytes.count - 40) / 30) }
        for offset in offsets.sorted() where offset < gzBytes.count {
            add("gzip-truncated", "cut-\(offset).csv.gz", Array(gzBytes[..<offset]), .refused([.corruptGzip, .truncatedGzip]))
        }
        for round in 0..<30 {
            var mutated = gzBytes
            let at = round < 10 ? round : Int.random(in: 10..<mutated.count, using: &random)
            mutated[at] ^= UInt8(1 << (round % 8))
            add("gzip-corrupted", "flip-\(round)-at-\(at).csv.gz", mutated, .readsAs(rowsRead: 200, changes: original))
        }
        for round in 0..<10 {
            let count = Int.random(in: 1...8192, using: &random)
            let garbage = (0..<count).map { _ in UInt8.random(in: 0...255, using: &random) }
            add("gzip-of-garbage", "garbage-\(round).csv.gz", gzip(garbage), .refused([.binary, .notUTF8, .noIdentifierColumn, .noHeader, .lineTooLong, .unclosedQuote, .noSegmentColumn, .duplicateColumn]))
        }
        let tail = (0..<64).map { _ in UInt8.random(in: 0...255, using: &random) }
        let corruptOrTruncated: Set<AudienceFileError.Kind> = [.corruptGzip, .truncatedGzip]
        add("gzip-concatenated", "garbage-tail.csv.gz", gzBytes + tail, .refused(corruptOrTruncated))
        add("gzip-concatenated", "zero-padding.csv.gz", gzBytes + [UInt8](repeating: 0, count: 512), .refused(corruptOrTruncated))
        add("gzip-concatenated", "one-byte-tail.csv.gz", gzBytes + [0x1F], .refused(corruptOrTruncated))
        add("gzip-concatenated", "magic-tail.csv.gz", gzBytes + [0x1F, 0x8B], .refused(corruptOrTruncated))
        add("gzip-concatenated", "text-tail.csv.gz", gzBytes + Array("\(hash(999)),123456\n".utf8), .refused(corruptOrTruncated))
        add("gzip-concatenated", "truncated-second-member.csv.gz", gzBytes + Array(gzip(Array("\(hash(999)),123456\n".utf8)).dropLast(4)), .refused(corruptOrTruncated))
        add("gzip-concatenated", "two-members.csv.gz", gzBytes + gzip(Array("\(hash(999)),123456\n".utf8)), .reads)
        add("gzip-concatenated", "empty-members.csv.gz", gzip([]) + gzBytes + gzip([]), .reads)
        add("gzip-concatenated", "gzip-of-gzip.csv.gz", gzip(gzBytes), .refused([.binary, .notUTF8]))
        add("gzip-concatenated", "plain-named-gz.csv.gz", Array(gzText.utf8), .refused([.corruptGzip]))
        add("gzip-concatenated", "gzip-named-csv.csv", gzBytes, .reads)
        add("gzip-concatenated", "empty-gzip.csv.gz", gzip([]), .refused([.empty]))

        // Gzip bombs: far more data than the bound allows, in a few kilobytes.
        let chunk = gzip(Array(snapshotText(rows: 4000).utf8), level: 9)  // ~300 KB of text each
        let repeated = gzip(Array(String(repeating: "\(hash(5)),123456\n", count: 4000).utf8), level: 9)
        var bomb = chunk
        for _ in 0..<200 { bomb += repeated }
        corpus.append(HostileEntry(category: "gzip-bomb", name: "rows-60mb.csv.gz", bytes: bomb, expectation: .refused([.tooLarge]), maximumDecompressedBytes: 1 << 20))
        corpus.append(HostileEntry(category: "gzip-bomb", name: "one-endless-line.csv.gz", bytes: gzip([UInt8](repeating: UInt8(ascii: "a"), count: 8 << 20), level: 9), expectation: .refused([.tooLarge]), maximumDecompressedBytes: 512 << 10))
        corpus.append(HostileEntry(category: "gzip-bomb", name: "zeros.csv.gz", bytes: gzip([UInt8](repeating: 0, count: 8 << 20), level: 9), expectation: .refused([.binary, .tooLarge]), maximumDecompressedBytes: 1 << 20))
        corpus.append(HostileEntry(category: "gzip-bomb", name: "under-the-bound.csv.gz", bytes: chunk, expectation: .reads, maximumDecompressedBytes: 1 << 20))
        return corpus
    }

    private static func readSnapshotChanges(rows: Int) -> [HostileChange] {
        (0..<rows).map { index in
            HostileChange(
                segment: "123456", member: Member(type: .emailSHA256, digest: digest(index).withUnsafeBytes { Digest32(bytes: $0) }),
                action: .add, line: Int32(index + 2))
        }
    }
}
