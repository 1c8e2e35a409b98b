import ArgumentParser
import Foundation
import AudienceDaemon
import AudienceLedger
import AudienceModel
import AudienceTikTok

extension AudienceSyncCommand {
    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check the setup: configuration, token, advertiser, every segment, inbox and state folders.",
            discussion: """
                Run it after configuring. Every segment named under partners: (and every segment the ledger knows)
                must exist for the advertiser and be a Partner audience that has not expired; one expiring within
                60 days is a warning. Exits 0 when all pass (warnings included), 78 otherwise.
                Example: tiktok-audience-sync check --config /etc/tiktok-audience-sync/config.yaml
                """)

        @OptionGroup var options: ConfigOptions

        @Flag(help: "Print JSON instead of text.")
        var json = false

        func run() async throws {
            let context = try await CommandContext.load(options)
            let configuration = context.configuration
            var known: [String] = []
            var hashingRules: String?
            var legacyMAIDType: MAIDType?
            if FileManager.default.fileExists(atPath: configuration.ledgerPath),
                let reader = try? await Ledger.open(path: configuration.ledgerPath).reader
            {
                known = (try? await reader.knownSegments()) ?? []
                hashingRules = try? await reader.hashingRules()
                legacyMAIDType = try? await reader.legacyMAIDType()
            }
            let client = context.token == nil ? nil : try context.tiktokClient()
            let items = await Preflight(
                configuration: configuration, client: client, tokenOrigin: context.tokenOrigin, knownSegments: known,
                recordedHashingRules: hashingRules, legacyMAIDType: legacyMAIDType
            ).run()
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                say(context.redactor.redact(String(decoding: try encoder.encode(items), as: UTF8.self)))
            } else {
                let width = max(20, (items.map(\.check.count).max() ?? 0) + 2)
                for item in items {
                    let mark = !item.passed ? "FAIL  " : item.warning ? "warn  " : "ok    "
                    var line = mark + item.check.padding(width) + item.detail
                    if let advice = item.advice, !item.passed || item.warning {
                        line += "\n      " + String(repeating: " ", count: width) + "→ " + advice
                    }
                    say(context.redactor.redact(line))
                }
            }
            let failed = items.filter { !$0.passed }
            if !failed.isEmpty {
                throw fail(
                    "\(failed.count) check(s) failed: \(failed.map(\.check).joined(separator: ", "))", Exit.badConfiguration,
                    redactor: context.redactor)
            }
        }
    }
}
