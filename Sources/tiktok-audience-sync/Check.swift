import ArgumentParser
import Foundation
import AudienceDaemon
import AudienceLedger
import AudienceModel
import AudienceSupport
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
            var context = try await CommandContext.load(options)
            let rootOwned = Self.rootOwnedStateDirectory(context.configuration.stateDirectory)
            try context.useStateDirectory()
            let configuration = context.configuration
            var known: [String] = []
            var hashingRules: String?
            var legacyMAIDType: MAIDType?
            if FileManager.default.fileExists(atPath: configuration.ledgerPath),
                let reader = try? await LedgerReader.open(path: configuration.ledgerPath)
            {
                known = (try? await reader.knownSegments()) ?? []
                hashingRules = try? await reader.hashingRules()
                legacyMAIDType = try? await reader.legacyMAIDType()
            }
            let client = context.token == nil ? nil : try context.tiktokClient()
            var items = await Preflight(
                configuration: configuration, client: client, tokenOrigin: context.tokenOrigin, knownSegments: known,
                recordedHashingRules: hashingRules, legacyMAIDType: legacyMAIDType
            ).run()
            if let rootOwned { items.insert(rootOwned, at: 0) }
            if json {
                say(context.redactor.redact(try PrettyJSON.encode(items)))
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

        /// A state directory owned by root on a machine with the service's user: the daemon, run
        /// as that user, could not write there (root's own runs of this check could).
        static func rootOwnedStateDirectory(_ state: String) -> PreflightItem? {
            guard geteuid() == 0, let owner = StateOwner(of: state), owner.uid == 0, getpwnam(serviceUser) != nil else { return nil }
            return PreflightItem(
                check: "state owner", passed: true, warning: true,
                detail: "\(state) belongs to root, but the service runs as \(serviceUser)",
                advice: "chown -R \(serviceUser): \(state) (unless the unit runs as root on purpose)")
        }

        static let serviceUser = "tiktok-audience-sync"
    }
}
