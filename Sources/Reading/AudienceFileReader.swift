import Crypto
import AudienceModel

/// Options that shape how an audience file is read.
public struct ReadingOptions: Sendable {
    /// How plain identifiers are normalised, and the type of an untyped `maid`.
    public var identifierRules = IdentifierRules()
    /// When set, rows for other segments are rejected (a partner's own segments).
    public var allowedSegments: Set<String>? = nil
    public var maximumDecompressedBytes: Int64 = 16 << 30
    /// How many rejected rows a report lists one by one; the rest are only counted.
    public var maximumListedRejections = 1000
    /// Called every `progressInterval` rows while a file is read.
    public var progress: (@Sendable (ReadProgress) -> Void)?
    public var progressInterval = 100_000

    public init() {}
}

/// How far reading a file has got.
public struct ReadProgress: Sendable {
    public var path: String
    public var rows: Int
    /// Bytes of the file itself read so far (compressed bytes for a .gz) and its size.
    public var bytesRead: Int64
    public var size: Int64
    public var elapsedSeconds: Double

    public var fraction: Double { size > 0 ? min(1, Double(bytesRead) / Double(size)) : 1 }
}

/// One member change a file asks for. `segment` indexes ``AudienceFileReader/segments``.
public struct MemberChange: Sendable {
    public var member: Member
    public var segment: UInt32
    public var action: MembershipAction
    public var line: Int32
    /// A remove that an earlier add in the same file made: it only undoes what is already there.
    public var removesOnlyIfPresent = false

    public init(member: Member, segment: UInt32, action: MembershipAction, line: Int32) {
        self.member = member
        self.segment = segment
        self.action = action
        self.line = line
    }
}

/// What reading a file found, besides the member changes themselves.
public struct ReadSummary: Sendable {
    public var isDelta = true
    public var kind: FileKind { FileKind(isDelta: isDelta) }
    public var rowsRead = 0
    public var rowsRejected = 0
    public var membersRead = 0
    public var rejections: [RowRejection] = []
    public var rejectionCounts: [RejectReason: Int] = [:]
    public var ignoredColumns: [String] = []
    /// How the file's text was encoded (UTF-16 is decoded while it is read).
    public var encoding: TextEncoding = .utf8
    /// The character that separates the columns, told from the header line.
    public var delimiter: Delimiter = .comma
    /// MAIDs of 32 hex digits, and how many are laid out like UUIDs without hyphens (an MD5 is one
    /// time in 64): whether `identifiers.maid_32_hex` fits what the partner sends.
    public var hex32MAIDs = 0
    public var hex32MAIDsLikeUUIDs = 0

    /// What the 32-hex MAIDs suggest when it is not what `rules` take them for; nil otherwise.
    public func maid32HexHint(_ rules: IdentifierRules) -> String? {
        guard hex32MAIDs >= 10 else { return nil }
        let share = Double(hex32MAIDsLikeUUIDs) / Double(hex32MAIDs)
        if rules.maid32Hex != .uuid && share >= 0.9 {
            return "\(hex32MAIDsLikeUUIDs) of the \(hex32MAIDs) MAIDs of 32 hex digits are laid out like UUIDs without hyphens (an MD5 is so one time in 64): if they are, set identifiers.maid_32_hex: uuid"
        }
        if rules.maid32Hex == .uuid && share < 0.5 {
            return "only \(hex32MAIDsLikeUUIDs) of the \(hex32MAIDs) MAIDs of 32 hex digits are laid out like UUIDs: if they are MD5s, set identifiers.maid_32_hex: md5"
        }
        return nil
    }
}

/// The column separators the header line may use.
public enum Delimiter: String, Sendable, Codable, CaseIterable {
    case comma = ","
    case tab = "\t"
    case pipe = "|"
    /// Excel's CSV where the list separator is `;` (much of Europe).
    case semicolon = ";"

    var byte: UInt8 {
        switch self {
        case .comma: UInt8(ascii: ",")
        case .tab: UInt8(ascii: "\t")
        case .pipe: UInt8(ascii: "|")
        case .semicolon: UInt8(ascii: ";")
        }
    }

    /// For messages: "tab-separated".
    public var described: String {
        switch self {
        case .comma: "comma-separated"
        case .tab: "tab-separated"
        case .pipe: "|-separated"
        case .semicolon: "semicolon-separated"
        }
    }
}

/// Reads an audience file (CSV, optionally gzip) as a stream of member changes, validating and
/// normalising every row. Never holds the file in memory.
public final class AudienceFileReader {
    public let path: String
    public private(set) var segments: [SegmentID] = []
    /// Known once the header is read: true for a delta (has `action`), false for a snapshot.
    public private(set) var isDelta = true
    private let file: RegularFile
    private let options: ReadingOptions
    private var segmentIndex: [String: UInt32] = [:]

    public init(path: String, options: ReadingOptions = .init()) throws {
        self.path = path
        self.options = options
        file = try RegularFile(path: path)
    }

    public var size: Int64 { file.size }
    public var identity: FileIdentity { file.identity }

    /// SHA-256 of the file's bytes: its identity in the ledger, whatever its name.
    /// `between`: called before each MiB is read; what it throws ends the reading (a shutdown must
    /// not wait for a large file's hash either).
    public func fingerprint(between: () throws -> Void = {}) throws -> Digest32 {
        file.rewind()
        var hasher = SHA256()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            try between()
            let count = try file.read(into: buffer)
            if count == 0 { break }
            hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: buffer[..<count]))
        }
        try file.ensureUnchanged()
        return hasher.finalize().withUnsafeBytes { Digest32(bytes: $0) }
    }

    /// True when the file starts with gzip's magic bytes, whatever its name.
    public func isGzip() throws -> Bool {
        file.rewind()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 2, alignment: 1)
        defer { buffer.deallocate() }
        let count = try file.read(into: buffer)
        return count == 2 && buffer[0] == 0x1f && buffer[1] == 0x8b
    }

    /// Reads every row, calling `visit` for each member change in file order.
    public func read(_ visit: (MemberChange) throws -> Void) throws -> ReadSummary {
        let compressed = try isGzip()
        if path.hasSuffix(".gz") && !compressed {
            throw AudienceFileError(.corruptGzip, "is named .gz but is not gzip data")
        }
        file.rewind()
        let summary: ReadSummary
        do {
            if compressed {
                let source = try DecodingByteSource(
                    GzipByteSource(FileByteSource(file: file), maximumDecompressedBytes: options.maximumDecompressedBytes))
                summary = try readRecords(CSVRecordReader(source: source), encoding: source.encoding, visit)
            } else {
                let source = try DecodingByteSource(FileByteSource(file: file))
                summary = try readRecords(CSVRecordReader(source: source), encoding: source.encoding, visit)
            }
        } catch let error as AudienceFileError {
            // A file overwritten or cut while being read looks broken; say what really happened, so
            // it is read again once it settles instead of being rejected for good.
            try file.ensureUnchanged()
            throw error
        }
        try file.ensureUnchanged()
        return summary
    }

    private func readRecords<S: ByteSource>(
        _ records: consuming CSVRecordReader<S>, encoding: TextEncoding, _ visit: (MemberChange) throws -> Void
    ) throws -> ReadSummary {
        var records = records
        let delimiter = HeaderLayout.delimiter(forHeaderLine: try records.peekFirstLine())
        records.delimiter = delimiter.byte
        guard try records.nextRecord() else {
            throw AudienceFileError(.empty, "is empty: an audience file needs a header line and rows")
        }
        if records.fields.count == 1 && records.fields[0].isEmpty {
            throw AudienceFileError(.noHeader, line: 1, "the first line is empty; it must be a header naming the columns")
        }
        let names = (0..<records.fields.count).map { records.fieldString($0) }
        let layout = try HeaderLayout(header: names)
        var summary = ReadSummary()
        summary.encoding = encoding
        summary.delimiter = delimiter
        summary.isDelta = layout.isDelta
        isDelta = layout.isDelta
        summary.ignoredColumns = layout.ignoredColumns
        var rows = RowInterpreter(layout: layout, rules: options.identifierRules)
        var nextProgress = options.progress == nil ? Int.max : options.progressInterval
        let started = ContinuousClock.now
        while try records.nextRecord() {
            if records.fields.count == 1 && records.fields[0].isEmpty { continue }
            summary.rowsRead += 1
            if summary.rowsRead >= nextProgress {
                nextProgress += options.progressInterval
                let elapsed = ContinuousClock.now - started
                options.progress?(
                    ReadProgress(
                        path: path, rows: summary.rowsRead, bytesRead: file.bytesRead, size: file.size,
                        elapsedSeconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18))
            }
            let line = records.line
            if let reason = rows.interpret(records, segmentIndex: { self.segmentIndex(for: $0) }) {
                reject(&summary, RowRejection(line: line, reason: reason.0, detail: reason.1))
                continue
            }
            for member in rows.members {
                try visit(MemberChange(member: member, segment: rows.segment, action: rows.action, line: Int32(clamping: line)))
            }
            summary.membersRead += rows.members.count
        }
        summary.hex32MAIDs = rows.hex32MAIDs
        summary.hex32MAIDsLikeUUIDs = rows.hex32MAIDsLikeUUIDs
        return summary
    }

    private func reject(_ summary: inout ReadSummary, _ rejection: RowRejection) {
        summary.rowsRejected += 1
        summary.rejectionCounts[rejection.reason, default: 0] += 1
        if summary.rejections.count < options.maximumListedRejections { summary.rejections.append(rejection) }
    }

    /// The file-local index of a segment id; nil when it is not a valid or allowed segment.
    private func segmentIndex(for text: String) -> Result<UInt32, RejectReason> {
        if let known = segmentIndex[text] { return .success(known) }
        guard let segment = SegmentID(text) else { return .failure(text.isEmpty ? .missingSegment : .badSegment) }
        if let allowed = options.allowedSegments, !allowed.contains(segment.rawValue) {
            return .failure(.segmentNotAllowed)
        }
        let index = UInt32(segments.count)
        segments.append(segment)
        segmentIndex[text] = index
        return .success(index)
    }
}
