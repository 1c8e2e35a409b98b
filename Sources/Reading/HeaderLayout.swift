import AudienceSupport

/// Where each known column sits in a file's header, and what the header says about the file.
struct HeaderLayout: Sendable {
    enum Column: String, CaseIterable, Sendable {
        case emailHash = "email_hash"
        case phoneHash = "phone_hash"
        case email
        case phone
        case maid
        case idfa
        case aaid
        case maidType = "maid_type"
        case segmentID = "segment_id"
        case action

        var isIdentifier: Bool {
            switch self {
            case .emailHash, .phoneHash, .email, .phone, .maid, .idfa, .aaid: true
            case .maidType, .segmentID, .action: false
            }
        }
    }

    let positions: [Column: Int]
    let fieldCount: Int
    let ignoredColumns: [String]
    /// With an `action` column the file is a delta; without, a snapshot of each segment it names.
    var isDelta: Bool { positions[.action] != nil }

    init(header names: [String]) throws {
        var positions: [Column: Int] = [:]
        var ignored: [String] = []
        for (index, rawName) in names.enumerated() {
            let name = rawName.trimmingCharacters(in: " \t").lowercased()
            guard let column = Column(rawValue: name) else {
                if !name.isEmpty { ignored.append(rawName) }
                continue
            }
            if let earlier = positions[column] {
                throw AudienceFileError(
                    .duplicateColumn, line: 1,
                    "the header names column \(column.rawValue) twice (columns \(earlier + 1) and \(index + 1))")
            }
            positions[column] = index
        }
        guard positions.keys.contains(where: \.isIdentifier) else {
            throw AudienceFileError(
                .noIdentifierColumn, line: 1,
                "the header has no identifier column; expected one or more of email_hash, phone_hash, email, phone, maid, idfa, aaid")
        }
        guard positions[.segmentID] != nil else {
            throw AudienceFileError(.noSegmentColumn, line: 1, "the header has no segment_id column")
        }
        self.positions = positions
        self.fieldCount = names.count
        self.ignoredColumns = ignored
    }

    /// Picks the delimiter that splits the header line into the most columns: comma, tab, `|` or
    /// `;` (Excel's CSV where the list separator is a semicolon); a tie goes to the earlier one.
    static func delimiter(forHeaderLine line: [UInt8]) -> Delimiter {
        let candidates = Delimiter.allCases
        var best = candidates[0]
        var bestCount = 0
        for candidate in candidates {
            var count = 0
            var quoted = false
            for byte in line {
                if byte == UInt8(ascii: "\"") { quoted.toggle() } else if byte == candidate.byte && !quoted { count += 1 }
            }
            if count > bestCount {
                best = candidate
                bestCount = count
            }
        }
        return best
    }
}
