import ArgumentParser
import Foundation
import AudienceConfig
import AudienceSupport
import AudienceTikTok

extension AudienceSyncCommand {
    struct Segments: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the advertiser's TikTok audiences, or create a Partner audience to sync into.",
            discussion: """
                Only Partner audiences take member changes through TikTok's API, and TikTok's own UI cannot
                create them: `segments create` does. Put the id it prints under partners: in the configuration.
                """,
            subcommands: [List.self, Create.self])
    }
}

extension AudienceSyncCommand.Segments {
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the advertiser's audiences: id, type, matched size, validity, expiry, name.",
            discussion: """
                The PARTNERS column names the configured partners whose files go to the audience. Only Partner
                audiences can be synced to. Exits 0, or 78 when TikTok refuses the token or the advertiser.
                Example: tiktok-audience-sync segments list --json
                """)

        @OptionGroup var options: ConfigOptions

        @Flag(help: "Print JSON instead of text.")
        var json = false

        func run() async throws {
            let context = try await CommandContext.load(options)
            let client = try context.tiktokClient()
            var audiences: [AudienceDetails] = []
            var page = 1
            while true {
                switch try await client.audiencePage(page) {
                case .answered(let result):
                    audiences += result.audiences
                    guard page < result.totalPages, !result.audiences.isEmpty else { break }
                    page += 1
                    continue
                case .refused(let summary, let code):
                    throw refusal("TikTok refused the list of audiences: \(summary)", code: code, context: context)
                }
                break
            }
            let partners = context.configuration.partnersBySegment
            if json {
                let listed = audiences.map { ListedAudience($0, partners: partners[$0.id] ?? []) }
                say(try PrettyJSON.encode(listed))
                return
            }
            var rows = [["ID", "TYPE", "MATCHED", "VALID", "EXPIRES", "PARTNERS", "NAME"]]
            for audience in audiences {
                rows.append([
                    audience.id, audience.audienceType ?? "?",
                    audience.coverNumber.map { $0 == 0 ? "<1,000" : $0.groupedDigits } ?? "?",
                    audience.isValid.map { $0 ? "yes" : "no" } ?? "?",
                    audience.expiresAt.map { String(ISO8601Time.string($0).prefix(10)) + (audience.isExpiring == true ? " (soon)" : "") } ?? "-",
                    (partners[audience.id] ?? []).joined(separator: ",").ifEmpty("-"),
                    (audience.name ?? "").escapingControlCharacters,
                ])
            }
            let widths = (0..<rows[0].count).map { column in rows.map { $0[column].count }.max() ?? 0 }
            for row in rows {
                say(zip(row, widths).enumerated().map { $0 == row.count - 1 ? $1.0 : $1.0.padding($1.1 + 2) }.joined())
            }
            say("\(audiences.count) audience(s); \(audiences.filter { $0.isPartner == true }.count) Partner audience(s) can be synced to")
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a Partner audience and print its id.",
            discussion: """
                TikTok shows at most 70 characters of a name: a longer one is cut to 67 and "...", as TikTok
                would, and the name used is printed. Put the id under partners: in the configuration.
                Example: tiktok-audience-sync segments create "Spring buyers"
                """)

        @OptionGroup var options: ConfigOptions

        @Argument(help: "The audience's name.")
        var name: String

        func validate() throws {
            guard !name.trimmingCharacters(in: .whitespaces).isEmpty else { throw ValidationError("The name must not be empty.") }
            guard !name.contains(where: \.isNewline) else { throw ValidationError("The name must be one line.") }
        }

        func run() async throws {
            let context = try await CommandContext.load(options)
            let client = try context.tiktokClient()
            let shown = TikTokClient.audienceNameAsShown(name)
            if shown != name {
                FileHandleOutput.standardError(
                    "tiktok-audience-sync: TikTok allows \(TikTokClient.audienceNameLimit) characters in a name; using \"\(shown)\"\n")
            }
            switch try await client.createPartnerAudience(named: shown) {
            case .answered(let id):
                say(id)
                FileHandleOutput.standardError(
                    "tiktok-audience-sync: created Partner audience \(id) \"\(shown)\"; name it under partners: (segments: [\"\(id)\"]). TikTok may take a minute or two before it takes members; until then the sender tries again\n")
            case .refused(let summary, let code):
                throw refusal("TikTok did not create the audience: \(summary)", code: code, context: context)
            }
        }
    }
}

/// An audience in `segments list --json`: snake_case names, ISO 8601 times.
private struct ListedAudience: Encodable {
    var audience_id: String
    var name: String?
    var audience_type: String?
    var cover_num: Int?
    var is_valid: Bool?
    var is_expiring: Bool?
    var expires_at: String?
    var created_at: String?
    var partners: [String]
    var syncable: Bool

    init(_ details: AudienceDetails, partners: [String]) {
        audience_id = details.id
        name = details.name
        audience_type = details.audienceType
        cover_num = details.coverNumber
        is_valid = details.isValid
        is_expiring = details.isExpiring
        expires_at = details.expiresAt.map(ISO8601Time.string)
        created_at = details.createdAt.map(ISO8601Time.string)
        self.partners = partners
        syncable = details.isPartner == true
    }
}

/// TikTok's refusal of a command's call as an exit: 75 when trying later may help (a retry code,
/// an interface offline for now, an answer that could not be read), 78 otherwise.
func refusal(_ message: String, code: Int?, context: CommandContext) -> ExitCode {
    let advice = ReturnCodeAdvice.forCode(code).map { "; \($0)" } ?? ""
    let later: Bool
    switch code.map(AnswerHandling.forCode) {
    case .retry?, nil: later = true
    case .success?, .successWithNote?: later = true  // code 0 whose data could not be read
    default: later = code == 41001
    }
    return fail(message + advice, later ? Exit.workPending : Exit.badConfiguration, redactor: context.redactor)
}

extension String {
    fileprivate func ifEmpty(_ replacement: String) -> String { isEmpty ? replacement : self }
}
