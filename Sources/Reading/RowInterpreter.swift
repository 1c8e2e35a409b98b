import AudienceModel
import AudienceSupport

/// Turns one CSV record into a segment, an action and the members it names, or a reason to reject it.
struct RowInterpreter {
    private(set) var members: [Member] = []
    private(set) var segment: UInt32 = 0
    private(set) var action: MembershipAction = .add
    /// MAIDs of 32 hex digits met so far, and how many of them are laid out like a UUID without
    /// hyphens (``IdentifierNormalizer/looksLikeUUID(_:)``): what `validate` tells the operator.
    private(set) var hex32MAIDs = 0
    private(set) var hex32MAIDsLikeUUIDs = 0

    private let fieldCount: Int
    private let segmentColumn: Int
    private let actionColumn: Int?
    private let maidTypeColumn: Int?
    private let identifierColumns: [(HeaderLayout.Column, Int)]
    private let rules: IdentifierRules
    private var lastSegmentBytes: [UInt8] = []
    private var lastSegment: UInt32?

    init(layout: HeaderLayout, rules: IdentifierRules) {
        fieldCount = layout.fieldCount
        segmentColumn = layout.positions[.segmentID] ?? 0
        actionColumn = layout.positions[.action]
        maidTypeColumn = layout.positions[.maidType]
        identifierColumns = HeaderLayout.Column.allCases.filter(\.isIdentifier).compactMap { column in
            layout.positions[column].map { (column, $0) }
        }
        self.rules = rules
        members.reserveCapacity(identifierColumns.count)
    }

    /// Fills `members`, `segment` and `action`; returns the reason and a redacted detail on rejection.
    mutating func interpret<S>(
        _ record: borrowing CSVRecordReader<S>,
        segmentIndex: (String) throws -> Result<UInt32, RejectReason>
    ) rethrows -> (RejectReason, String)? {
        members.removeAll(keepingCapacity: true)
        if record.malformedQuoting { return (.malformedQuoting, "line has text after a closing quote") }
        guard record.fields.count == fieldCount else {
            return (.wrongFieldCount, "\(record.fields.count) fields, header has \(fieldCount)")
        }
        switch try resolveSegment(record, segmentIndex) {
        case .success(let index): segment = index
        case .failure(let reason):
            return (reason, record.withField(segmentColumn) { IdentifierNormalizer.redactedSample($0, column: "segment_id") })
        }
        if let actionColumn {
            let parsed = record.withField(actionColumn) { Self.parseAction(IdentifierNormalizer.trimmed($0)) }
            switch parsed {
            case .success(let value): action = value
            case .failure(let reason):
                return (reason, record.withField(actionColumn) { IdentifierNormalizer.redactedSample($0, column: "action") })
            }
        } else {
            action = .add
        }
        var maidType = rules.maidType
        if let maidTypeColumn {
            let text = record.fieldString(maidTypeColumn).trimmingCharacters(in: " \t")
            if !text.isEmpty {
                guard let parsed = MAIDType(partnerValue: text) else {
                    return (.badMAIDType, "maid_type=\(text.prefix(8))")
                }
                maidType = parsed
            }
        }
        for (column, index) in identifierColumns {
            let outcome: Result<Member, RejectReason>? = record.withField(index) { cell in
                let length = IdentifierNormalizer.trimmed(cell).count
                if length == 0 { return nil }
                if length == 32, column == .maid || column == .idfa || column == .aaid {
                    hex32MAIDs += 1
                    if IdentifierNormalizer.looksLikeUUID(cell) { hex32MAIDsLikeUUIDs += 1 }
                }
                switch column {
                case .emailHash: return IdentifierNormalizer.sha256Hex(cell).map { Member(type: .emailSHA256, digest: $0) }
                case .phoneHash: return IdentifierNormalizer.sha256Hex(cell).map { Member(type: .phoneSHA256, digest: $0) }
                case .email: return IdentifierNormalizer.email(cell, rules: rules).map { Member(type: .emailSHA256, digest: $0) }
                case .phone: return IdentifierNormalizer.phone(cell, rules: rules).map { Member(type: .phoneSHA256, digest: $0) }
                case .maid:
                    // A bad value is reported as such before a missing type.
                    guard let maidType else {
                        return IdentifierNormalizer.maid(cell, hex32: rules.maid32Hex).flatMap { _ in .failure(.maidWithoutType) }
                    }
                    return Self.maidMember(cell, maidType, rules)
                case .idfa: return Self.maidMember(cell, .idfa, rules)
                case .aaid: return Self.maidMember(cell, .aaid, rules)
                case .maidType, .segmentID, .action: return nil
                }
            }
            switch outcome {
            case .none: continue
            case .success(let member): members.append(member)
            case .failure(let reason):
                members.removeAll(keepingCapacity: true)
                return (reason, record.withField(index) { IdentifierNormalizer.redactedSample($0, column: column.rawValue) })
            }
        }
        if members.isEmpty { return (.noIdentifier, "all identifier columns are empty") }
        return nil
    }

    private mutating func resolveSegment<S>(
        _ record: borrowing CSVRecordReader<S>,
        _ segmentIndex: (String) throws -> Result<UInt32, RejectReason>
    ) rethrows -> Result<UInt32, RejectReason> {
        // Files usually hold long runs of one segment: compare bytes before building a String.
        let same = record.withField(segmentColumn) { cell in
            lastSegment != nil && cell.elementsEqual(lastSegmentBytes)
        }
        if same, let lastSegment { return .success(lastSegment) }
        let text = record.withField(segmentColumn) { String(decoding: IdentifierNormalizer.trimmed($0), as: UTF8.self) }
        let result = try segmentIndex(text)
        if case .success(let index) = result {
            lastSegment = index
            lastSegmentBytes = record.withField(segmentColumn) { Array($0) }
        }
        return result
    }

    private static func maidMember(_ cell: UnsafeRawBufferPointer, _ type: MAIDType, _ rules: IdentifierRules) -> Result<Member, RejectReason> {
        IdentifierNormalizer.maid(cell, hex32: rules.maid32Hex).map { Member(type: $0.md5 ? type.md5Type : type.sha256Type, digest: $0.digest) }
    }

    private static func parseAction(_ cell: Slice<UnsafeRawBufferPointer>) -> Result<MembershipAction, RejectReason> {
        if cell.isEmpty { return .failure(.missingAction) }
        switch String(decoding: cell, as: UTF8.self).lowercased() {
        case "add": return .success(.add)
        case "remove", "delete": return .success(.remove)
        default: return .failure(.unknownAction)
        }
    }
}
