import AudienceModel

/// Why a whole file cannot be read as an audience file. Row-level problems are ``RowRejection``s instead.
public struct AudienceFileError: OperatorError, Equatable {
    public enum Kind: String, Sendable {
        case notRegularFile = "not_regular_file"
        case unreadable
        case empty
        case notUTF8 = "not_utf8"
        case badUTF16 = "bad_utf16"
        case binary
        case noHeader = "no_header"
        case noIdentifierColumn = "no_identifier_column"
        case noSegmentColumn = "no_segment_column"
        case duplicateColumn = "duplicate_column"
        case corruptGzip = "corrupt_gzip"
        case truncatedGzip = "truncated_gzip"
        case tooLarge = "too_large"
        case lineTooLong = "line_too_long"
        case unclosedQuote = "unclosed_quote"
        case changedWhileReading = "changed_while_reading"
    }

    public let kind: Kind
    /// 1-based line of the problem, when there is one.
    public let line: Int?
    public let detail: String

    init(_ kind: Kind, line: Int? = nil, _ detail: String) {
        self.kind = kind
        self.line = line
        self.detail = detail
    }

    /// A file that cannot be read now (permissions, a change under way) may be read later; any
    /// other reason is the file's own.
    public var ending: FailureEnding {
        kind == .unreadable || kind == .changedWhileReading ? .retryLater : .inputRejected
    }

    public var description: String {
        if let line { return "line \(line): \(detail)" }
        return detail
    }

    public static func == (a: Self, b: Self) -> Bool { a.kind == b.kind && a.line == b.line }
}
