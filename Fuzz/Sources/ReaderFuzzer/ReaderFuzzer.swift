// libFuzzer target for the audience file reader. Built with `-sanitize=fuzzer,address`; the entry
// point (FuzzerDriver.c) hands over to libFuzzer's driver, which calls `LLVMFuzzerTestOneInput`
// once per input. See `Fuzz/run.sh`.
//
// Each input is checked four ways; any broken expectation is a `fatalError`, which libFuzzer
// reports as a crash and saves the input that caused it:
//
// 1. As a file: written to a temporary `input.csv` and read with `AudienceFileReader`, exactly as
//    the daemon reads an inbox file. It must either read, with a self-consistent summary, or throw
//    an `AudienceFileError` with a reason. A crash, an ASan report, a hang (`-timeout`) or
//    unbounded memory (`-rss_limit_mb`) is a finding.
// 2. Gzipped (one gzip member, or two members split at a point taken from the input) as
//    `input.csv.gz`: the outcome must be the same as for the plain file, refusals included.
// 3. Through the CSV tokenizer fed in small, irregular pieces into a 16-byte buffer that has to
//    grow: the records must be the same as when the whole input arrives in one read. This is the
//    only way to reach the code for records cut by a buffer's end with inputs under 1 MiB.
// 4. Through the UTF-8 validator in pieces: it must agree with the standard library's validation.
// 5. As UTF-16 (little-endian behind a byte-order mark, and big-endian) through the decoder the
//    reader uses for Excel's "Unicode Text", in pieces of 1 to 7 bytes: it must yield exactly the
//    standard library's UTF-8 for valid UTF-16, and refuse invalid UTF-16 (a lone surrogate, an
//    odd byte) with an error.

import CZlib
import FuzzerDriver  // only for the entry point it links in
import Glibc

import AudienceModel
@testable import AudienceReading

private let workDirectory: String = {
    // Memory-backed when there is a /dev/shm: writing the input twice per run costs less there.
    var info = stat()
    let base = stat("/dev/shm", &info) == 0 && access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp"
    var template = Array("\(base)/reader-fuzz-XXXXXX".utf8CString)
    guard let made = mkdtemp(&template) else { fatalError("mkdtemp failed: \(String(cString: strerror(errno)))") }
    let path = String(cString: made)
    atexit {
        // Best effort: libFuzzer may leave through _exit, which skips this.
        unlink(plainPath)
        unlink(gzipPath)
        rmdir(workDirectory)
    }
    return path
}()
private let plainPath = workDirectory + "/input.csv"
private let gzipPath = workDirectory + "/input.csv.gz"

private let maximumDecompressed: Int64 = 4 << 20
private let maximumListed = 64

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = size > 0 && data != nil ? Array(UnsafeBufferPointer(start: data, count: size)) : []
    let plain = readFile(plainPath, bytes)
    // An input that is itself gzip is read decompressed; gzipping it again would only hide it.
    if !(bytes.count >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b) {
        let split = bytes.isEmpty ? 0 : Int(bytes[bytes.count / 2]) % 4 == 0 ? Int(bytes[0]) % (bytes.count + 1) : -1
        let gzip = readFile(gzipPath, gzipMembers(bytes, splitAt: split))
        // Even the reason for a refusal must agree: errors are met in stream order, and both sources
        // fill the reader's 1 MiB buffer at each read, so an input under 1 MiB is seen whole at once
        // either way (a gzip source that stopped at each member's end once made a bad header win
        // over a bad byte further on).
        if plain != gzip {
            fatalError("gzip changes the outcome (split \(split)):\n plain: \(plain)\n gzip:  \(gzip)")
        }
    }
    compareChunkedTokenizer(bytes)
    compareValidator(bytes)
    compareUTF16Decoder(bytes)
    return 0
}

// MARK: - 1 and 2: the file reader

struct Change: Equatable, CustomStringConvertible {
    var segment: String
    var member: Member
    var action: MembershipAction
    var line: Int32
    var removesOnlyIfPresent: Bool
    var description: String { "\(line):\(segment):\(member.type):\(member.digest.hex.prefix(8)):\(action)" }
}

struct Summary: Equatable {
    var isDelta: Bool
    var rowsRead: Int
    var rowsRejected: Int
    var membersRead: Int
    var rejections: [RowRejection]
    var rejectionCounts: [RejectReason: Int]
    var ignoredColumns: [String]
    var changes: [Change]
}

enum Outcome: Equatable {
    case read(Summary)
    case refused(AudienceFileError.Kind, line: Int?)
}

private func readFile(_ path: String, _ bytes: [UInt8]) -> Outcome {
    writeFile(path, bytes)
    var options = ReadingOptions()
    options.maximumDecompressedBytes = maximumDecompressed
    options.maximumListedRejections = maximumListed
    do {
        let reader = try AudienceFileReader(path: path, options: options)
        _ = try reader.fingerprint()
        var changes: [Change] = []
        let summary = try reader.read { change in
            guard Int(change.segment) < reader.segments.count else {
                fatalError("segment index \(change.segment) out of range (\(reader.segments.count) segments)")
            }
            changes.append(Change(
                segment: reader.segments[Int(change.segment)].rawValue, member: change.member, action: change.action,
                line: change.line, removesOnlyIfPresent: change.removesOnlyIfPresent))
        }
        check(summary, changes, isDelta: reader.isDelta)
        return .read(Summary(
            isDelta: summary.isDelta, rowsRead: summary.rowsRead, rowsRejected: summary.rowsRejected,
            membersRead: summary.membersRead, rejections: summary.rejections, rejectionCounts: summary.rejectionCounts,
            ignoredColumns: summary.ignoredColumns, changes: changes))
    } catch let error as AudienceFileError {
        if error.description.isEmpty || error.detail.isEmpty { fatalError("a refusal without a reason: \(error.kind)") }
        if let line = error.line, line < 1 { fatalError("a refusal at line \(line): \(error)") }
        if error.kind == .changedWhileReading { fatalError("nothing changed the file, yet: \(error)") }
        return .refused(error.kind, line: error.line)
    } catch {
        fatalError("the reader threw something that is not an AudienceFileError: \(error)")
    }
}

/// What must hold for any file that reads.
private func check(_ summary: ReadSummary, _ changes: [Change], isDelta: Bool) {
    func fail(_ what: String) -> Never { fatalError("inconsistent summary: \(what)") }
    if summary.isDelta != isDelta { fail("isDelta differs from the reader's") }
    if summary.rowsRead < 0 || summary.rowsRejected < 0 || summary.rowsRejected > summary.rowsRead {
        fail("rowsRead \(summary.rowsRead), rowsRejected \(summary.rowsRejected)")
    }
    if summary.membersRead != changes.count { fail("membersRead \(summary.membersRead) but \(changes.count) visited") }
    if summary.rejectionCounts.values.reduce(0, +) != summary.rowsRejected { fail("rejection counts do not add up") }
    if summary.rejections.count != min(summary.rowsRejected, maximumListed) { fail("listed rejections") }
    var previous = 1
    for rejection in summary.rejections {
        if rejection.line <= previous { fail("rejection line \(rejection.line) after \(previous)") }
        if rejection.detail.isEmpty { fail("a rejection without detail") }
        previous = rejection.line
    }
    var previousChange: Int32 = 1
    for change in changes {
        if change.line < previousChange || change.line < 2 { fail("change at line \(change.line) after \(previousChange)") }
        if SegmentID(change.segment) == nil { fail("segment \(change.segment)") }
        if !isDelta && change.action != .add { fail("a snapshot with a remove") }
        previousChange = change.line
    }
    // Each accepted row gives at least one member; each member belongs to an accepted row.
    let acceptedRows = summary.rowsRead - summary.rowsRejected
    if acceptedRows > changes.count || (acceptedRows == 0 && !changes.isEmpty) { fail("\(acceptedRows) rows, \(changes.count) members") }
}

private func writeFile(_ path: String, _ bytes: [UInt8]) {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
    guard fd >= 0 else { fatalError("cannot write \(path): \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    var written = 0
    while written < bytes.count {
        let count = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + written, $0.count - written) }
        guard count > 0 else { fatalError("write failed: \(String(cString: strerror(errno)))") }
        written += count
    }
}

/// `bytes` as gzip; as two concatenated members when `splitAt` is in range (what `cat a.gz b.gz` makes).
private func gzipMembers(_ bytes: [UInt8], splitAt: Int) -> [UInt8] {
    if splitAt >= 0 && splitAt <= bytes.count {
        return gzip(Array(bytes[..<splitAt])) + gzip(Array(bytes[splitAt...]))
    }
    return gzip(bytes)
}

private func gzip(_ bytes: [UInt8]) -> [UInt8] {
    var stream = z_stream()
    // 15 + 16: a gzip wrapper.
    guard deflateInit2_(&stream, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK
    else { fatalError("deflateInit2 failed") }
    defer { deflateEnd(&stream) }
    var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, uLong(bytes.count))) + 64)
    var input = bytes
    let status = input.withUnsafeMutableBufferPointer { input in
        output.withUnsafeMutableBufferPointer { output in
            stream.next_in = input.baseAddress
            stream.avail_in = uInt(input.count)
            stream.next_out = output.baseAddress
            stream.avail_out = uInt(output.count)
            return deflate(&stream, Z_FINISH)
        }
    }
    guard status == Z_STREAM_END else { fatalError("deflate failed: \(status)") }
    return Array(output[..<Int(stream.total_out)])
}

// MARK: - 3: the tokenizer fed in pieces

/// Hands out an array in pieces whose sizes follow a small generator seeded from the input.
struct PieceSource: ByteSource {
    let bytes: [UInt8]
    var offset = 0
    var state: UInt64
    let largest: Int

    init(_ bytes: [UInt8], largest: Int) {
        self.bytes = bytes
        self.largest = largest
        var seed: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes.prefix(64) { seed = (seed ^ UInt64(byte)) &* 0x100_0000_01b3 }
        state = seed | 1
    }

    mutating func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        let want = 1 + Int(state % UInt64(largest))
        let count = min(want, buffer.count, bytes.count - offset)
        if count <= 0 { return 0 }
        bytes.withUnsafeBytes { buffer.baseAddress!.copyMemory(from: $0.baseAddress! + offset, byteCount: count) }
        offset += count
        return count
    }
}

struct Record: Equatable {
    var line: Int
    var fields: [[UInt8]]
    var malformedQuoting: Bool
}

struct Tokens: Equatable {
    var delimiter: UInt8 = 0
    var records: [Record] = []
    var failure: AudienceFileError? = nil
}

private func tokens<S: ByteSource>(_ reader: consuming CSVRecordReader<S>) -> Tokens {
    var reader = reader
    var result = Tokens()
    do {
        result.delimiter = HeaderLayout.delimiter(forHeaderLine: try reader.peekFirstLine()).byte
        reader.delimiter = result.delimiter
        while try reader.nextRecord() {
            if reader.line <= (result.records.last?.line ?? 0) {
                fatalError("line \(reader.line) after \(result.records.last?.line ?? 0)")
            }
            let fields = (0..<reader.fields.count).map { index in reader.withField(index) { Array($0) } }
            result.records.append(Record(line: reader.line, fields: fields, malformedQuoting: reader.malformedQuoting))
        }
    } catch let error as AudienceFileError {
        result.failure = error
    } catch {
        fatalError("the tokenizer threw something that is not an AudienceFileError: \(error)")
    }
    return result
}

private func compareChunkedTokenizer(_ bytes: [UInt8]) {
    // One read into a buffer larger than any input (libFuzzer's -max_len is 64 KiB in run.sh).
    let whole = tokens(CSVRecordReader(source: PieceSource(bytes, largest: Int.max / 2), readSize: max(1 << 17, bytes.count * 2)))
    // The tokenizer re-parses an unfinished record after each read, so pieces of a byte or two cost
    // time quadratic in a record's length: keep them to inputs where that stays well inside -timeout.
    // (Real sources never read that little: files and GzipByteSource fill the buffer they are given.)
    for largest in bytes.count <= 4096 ? [1, 7, 64] : [64, 1024] {
        let pieces = tokens(CSVRecordReader(source: PieceSource(bytes, largest: largest), readSize: 16))
        if let failure = whole.failure, failure.kind == .notUTF8 || failure.kind == .binary {
            // Validation fails at the first read in one piece, later in pieces: only the verdict must agree.
            if pieces.failure != failure || pieces.failure?.detail != failure.detail {
                fatalError("pieces of \(largest): \(String(describing: pieces.failure)) instead of \(failure)")
            }
            continue
        }
        if pieces != whole {
            fatalError("""
                the tokenizer reads differently in pieces of at most \(largest) bytes:
                 whole:  \(whole.records.count) records, delimiter \(whole.delimiter), \(String(describing: whole.failure)) \(whole.records.prefix(3))
                 pieces: \(pieces.records.count) records, delimiter \(pieces.delimiter), \(String(describing: pieces.failure)) \(pieces.records.prefix(3))
                """)
        }
    }
}

// MARK: - 4: the UTF-8 validator

private func compareValidator(_ bytes: [UInt8]) {
    let expected = !bytes.contains(0) && String(validating: bytes, as: UTF8.self) != nil
    var validator = UTF8Validator()
    var accepted = true
    var offset = 0
    var step = 1
    do {
        try bytes.withUnsafeBytes { all in
            while offset < all.count {
                let end = min(all.count, offset + step)
                try validator.validate(UnsafeRawBufferPointer(rebasing: all[offset..<end]))
                offset = end
                step = step % 13 + 1
            }
        }
        try validator.finish()
    } catch {
        accepted = false
    }
    if accepted != expected {
        fatalError("the UTF-8 validator says \(accepted ? "valid" : "invalid"), the standard library \(expected ? "valid" : "invalid")")
    }
}

// MARK: - 5: the UTF-16 decoder in pieces

private func compareUTF16Decoder(_ bytes: [UInt8]) {
    for bigEndian in [false, true] {
        let units: [UInt16] = stride(from: 0, to: bytes.count - 1, by: 2).map { index in
            bigEndian ? UInt16(bytes[index]) << 8 | UInt16(bytes[index + 1]) : UInt16(bytes[index + 1]) << 8 | UInt16(bytes[index])
        }
        let expected: [UInt8]? = bytes.count % 2 == 0 ? String(validating: units, as: UTF16.self).map { Array($0.utf8) } : nil
        let mark: [UInt8] = bigEndian ? [0xFE, 0xFF] : [0xFF, 0xFE]
        var decoded: [UInt8] = []
        do {
            var source = try DecodingByteSource(PieceSource(mark + bytes, largest: 7))
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 5, alignment: 1)
            defer { buffer.deallocate() }
            while true {
                let count = try source.read(into: buffer)
                if count == 0 { break }
                decoded += buffer[0..<count]
            }
        } catch {
            if expected != nil { fatalError("the UTF-16 decoder refused valid UTF-16 (\(bigEndian ? "BE" : "LE")): \(error)") }
            continue
        }
        guard let expected else { fatalError("the UTF-16 decoder read invalid UTF-16 (\(bigEndian ? "BE" : "LE"))") }
        if decoded != expected { fatalError("the UTF-16 decoder's UTF-8 differs from the standard library's (\(bigEndian ? "BE" : "LE"))") }
    }
}
