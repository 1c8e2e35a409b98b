import ArgumentParser
import Foundation
import AudienceConfig
import AudienceModel
import AudienceReading
import AudienceSupport

extension AudienceSyncCommand {
    struct Validate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check audience files without touching the ledger or TikTok.",
            discussion: """
                Reports the identifier rules in effect, then, per file, its kind (delta or snapshot), rows,
                members and segments, how it was read (UTF-8, or UTF-16 as Excel's "Unicode Text" writes it;
                comma, tab, | or ; between columns), and every rejected row with its line number and reason.
                The rules are TikTok's defaults, or those of --config (and of the partner whose inbox folder
                holds the file, or --partner); --maid-type, --phone-format and --maid-32-hex override them.
                Exits 65 when anything is rejected.
                Example: tiktok-audience-sync validate --config /etc/tiktok-audience-sync/config.yaml acme/2026-11-25.csv
                """)

        @Argument(help: "Audience files (CSV, optionally .gz).")
        var files: [String]

        @OptionGroup var ruleOptions: IdentifierRuleOptions

        @Flag(help: "Print JSON instead of text.")
        var json = false

        func run() async throws {
            let configuration = try await ruleOptions.loadConfiguration()
            var options = ReadingOptions()
            var anyRejected = false
            var reports: [FileValidation] = []
            for path in files {
                options.identifierRules = ruleOptions.rules(for: path, configuration: configuration)
                var report = FileValidation(file: path, rules: options.identifierRules)
                do {
                    let reader = try AudienceFileReader(path: path, options: options)
                    var segments: [UInt32: Int] = [:]
                    let summary = try reader.read { change in segments[change.segment, default: 0] += 1 }
                    report.kind = summary.kind
                    report.rows = summary.rowsRead
                    report.members = summary.membersRead
                    report.rowsRejected = summary.rowsRejected
                    report.rejects = summary.rejections
                    report.ignoredColumns = summary.ignoredColumns
                    report.maid32HexHint = summary.maid32HexHint(options.identifierRules)
                    report.encoding = summary.encoding
                    report.delimiter = summary.delimiter
                    report.segments = Dictionary(uniqueKeysWithValues: segments.map { (reader.segments[Int($0.key)].rawValue, $0.value) })
                    anyRejected = anyRejected || summary.rowsRejected > 0
                } catch let error as AudienceFileError {
                    report.rejected = error.description
                    anyRejected = true
                }
                reports.append(report)
            }
            if json {
                say(try PrettyJSON.encode(reports))
            } else {
                for report in reports { say(report.text) }
            }
            if anyRejected { throw Exit.inputRejected }
        }
    }
}

struct FileValidation: Encodable {
    var file: String
    var rules: IdentifierRules
    var kind: FileKind?
    var rows = 0
    var members = 0
    var rowsRejected = 0
    var segments: [String: Int] = [:]
    var rejects: [RowRejection] = []
    var ignoredColumns: [String] = []
    var encoding: TextEncoding?
    var delimiter: Delimiter?
    var maid32HexHint: String?
    var rejected: String?

    enum CodingKeys: String, CodingKey {
        case file, rules, kind, rows, members, segments, rejects, rejected, encoding, delimiter
        case maid32HexHint = "maid_32_hex_hint"
        case rowsRejected = "rows_rejected"
        case ignoredColumns = "ignored_columns"
    }

    var text: String {
        if let rejected { return "\(file): rejected: \(rejected)" }
        var lines = [
            "\(file): \(kind?.rawValue ?? "?"), \(rows) rows, \(members) members in \(segments.count) segment(s), \(rowsRejected) rows rejected",
            "  rules: \(rules.summary)",
        ]
        if let encoding, let delimiter { lines.append("  read as \(encoding.described), \(delimiter.described)") }
        if let maid32HexHint { lines.append("  note: \(maid32HexHint)") }
        for segment in segments.keys.sorted() { lines.append("  segment \(segment): \(segments[segment] ?? 0) members") }
        if !ignoredColumns.isEmpty { lines.append("  ignored columns: \(ignoredColumns.joined(separator: ", "))") }
        for reject in rejects { lines.append("  line \(reject.line): \(reject.reason.rawValue): \(reject.reason.advice) (\(reject.detail))") }
        if rowsRejected > rejects.count { lines.append("  … and \(rowsRejected - rejects.count) more rejected rows") }
        return lines.joined(separator: "\n")
    }
}
