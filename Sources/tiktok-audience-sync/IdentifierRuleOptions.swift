import ArgumentParser
import Foundation
import AudienceConfig
import AudienceModel

/// The options of commands that hash identifiers without the daemon (`validate`, `hash`): the
/// rules are TikTok's defaults, or the configuration's (and a partner's), with these over them.
struct IdentifierRuleOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Take the identifier rules from this configuration file.", valueName: "file"))
    var config: String?

    @Option(help: "Use this partner's rules (validate: by default the partner folder the file is in).")
    var partner: String?

    @Option(help: "The type of a maid without maid_type: idfa or aaid (default: the configuration's, else refused).")
    var maidType: String?

    @Option(help: "How phone numbers are hashed: digits (TikTok's help page; the default) or e164 (with +).")
    var phoneFormat: String?

    @Option(name: .customLong("maid-32-hex"), help: "What a maid of 32 hex digits is: md5 (the default), uuid (without hyphens) or reject.")
    var maid32Hex: String?

    func validate() throws {
        if let maidType, MAIDType(partnerValue: maidType) == nil { throw ValidationError("--maid-type must be idfa or aaid") }
        if partner != nil && config == nil { throw ValidationError("--partner needs --config (the partner's rules are there)") }
        if let phoneFormat, IdentifierRules.PhoneForm(rawValue: phoneFormat) == nil {
            throw ValidationError("--phone-format must be digits or e164")
        }
        if let maid32Hex, IdentifierRules.MAID32Hex(rawValue: maid32Hex) == nil {
            throw ValidationError("--maid-32-hex must be md5, uuid or reject")
        }
    }

    /// The configuration named by `--config`, if any (exit 78 when it is not valid).
    func loadConfiguration() async throws -> Configuration? {
        guard let config else { return nil }
        let configuration: Configuration
        do {
            configuration = try await ConfigurationLoader.load(path: config, environment: ProcessInfo.processInfo.environment)
        } catch {
            throw fail(error)
        }
        if let partner, configuration.partners?[partner] == nil {
            throw fail("--partner \(partner) is not under partners: in \(config)", Exit.badConfiguration)
        }
        return configuration
    }

    /// The rules for a file at `path` (nil: not about a file).
    func rules(for path: String? = nil, configuration: Configuration?) -> IdentifierRules {
        let folder = path.flatMap { configuration?.partner(containing: $0) }
        var rules = configuration?.identifierRules(forPartner: partner ?? folder) ?? IdentifierRules()
        if let maidType { rules.maidType = MAIDType(partnerValue: maidType) }
        if let phoneFormat, let form = IdentifierRules.PhoneForm(rawValue: phoneFormat) { rules.phoneForm = form }
        if let maid32Hex, let hex32 = IdentifierRules.MAID32Hex(rawValue: maid32Hex) { rules.maid32Hex = hex32 }
        return rules
    }
}
