import ArgumentParser
import Foundation
import AudienceConfig
import AudienceModel
import AudienceReading

extension AudienceSyncCommand {
    struct Hash: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print what TikTok would receive for a plain email, phone number or MAID.",
            discussion: """
                For partners who hash on their side: their hash of a value must equal the one printed here, or
                TikTok matches nothing. Each value prints its id_schema type and hash, one line each; the rules
                used go to stderr. The rules are TikTok's defaults, or those of --config (and --partner), with
                --phone-format, --maid-type and --maid-32-hex over them. Values are never logged.
                Example: tiktok-audience-sync hash --email Jane.Doe+news@Example.com --phone "+1 415 555 0123"
                """)

        @Option(help: "A plain email address (repeatable).")
        var email: [String] = []

        @Option(help: "A plain phone number with its country code (repeatable).")
        var phone: [String] = []

        @Option(help: "A MAID: a UUID, or its SHA-256 or MD5 in hex (repeatable).")
        var maid: [String] = []

        @OptionGroup var ruleOptions: IdentifierRuleOptions

        func validate() throws {
            guard !(email.isEmpty && phone.isEmpty && maid.isEmpty) else {
                throw ValidationError("Give at least one --email, --phone or --maid.")
            }
        }

        func run() async throws {
            let rules = ruleOptions.rules(configuration: try await ruleOptions.loadConfiguration())
            FileHandleOutput.standardError("rules: \(rules.summary)\n")
            let values = email.map { ($0, PlainIdentifier.Kind.email, "email") } + phone.map { ($0, .phone, "phone") }
                + maid.map { ($0, .maid(nil), "maid") }
            var refused = 0
            for (number, (value, kind, name)) in values.enumerated() {
                switch PlainIdentifier.member(value, as: kind, rules: rules) {
                case .success(let member):
                    say("\(member.type.schemaName)  \(member.sentHex)")
                case .failure(let reason):
                    refused += 1
                    // The value itself is not repeated: it is someone's identifier.
                    say("refused  --\(name) (value \(number + 1)): \(reason.advice)")
                }
            }
            if refused > 0 { throw Exit.inputRejected }
        }
    }
}
