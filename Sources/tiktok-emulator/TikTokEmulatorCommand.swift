import ArgumentParser
import Foundation
import TikTokEmulator

/// `tiktok-emulator`: serve the TikTok emulator until SIGTERM / SIGINT.
///
/// Prints exactly one line, `listening on http://HOST:PORT/open_api/v1.3`, once it is ready;
/// scripts read the port from it.
@main
struct TikTokEmulatorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tiktok-emulator",
        abstract: "Serve an emulated TikTok audience-segment API on a local port, for tests and trials.",
        discussion: """
            Prints one line, "listening on http://HOST:PORT/open_api/v1.3", once ready, then serves until \
            SIGTERM or SIGINT.

            Admin routes (not part of TikTok's API): GET /_emulator/members?audience_id=ID, \
            GET /_emulator/stats, and POST /_emulator/faults with a JSON array such as \
            [{"code":40100},{"gateway_status":503},{"apply_then_fail":504},{"apply_then_drop":true},{"delay_ms":500}].
            """
    )

    static let tokenEnvironmentVariable = "TIKTOK_EMULATOR_TOKEN"

    @Option(help: "Address to bind.")
    var host = "127.0.0.1"

    @Option(help: "Port to bind; 0 picks a free one.")
    var port = 0

    @Option(help: "The advertiser id the emulator accepts.")
    var advertiserID = EmulatorConfiguration().advertiserID

    @Option(help: "The Access-Token to accept (default: $\(Self.tokenEnvironmentVariable), else emulator-token).")
    var accessToken: String?

    @Option(name: .customLong("audience"), help: "A Partner audience id that exists at start (repeatable; default: 123456 and 654321).")
    var audiences: [String] = []

    @Option(name: .customLong("customer-file-audience"), help: "A Customer File audience id that exists at start; mapping to it is refused, as TikTok does (repeatable).")
    var customerFileAudiences: [String] = []

    @Option(help: "Answer code 40100 above this many /segment/mapping/ calls per second.")
    var requestsPerSecond: Int?

    @Option(help: "Milliseconds added before every TikTok answer.")
    var latencyMs = 0

    @Option(name: .customLong("random-fault"), help: "FAULT@P: a fault (as POST /_emulator/faults spells one) that strikes each /segment/mapping/ request with probability P, e.g. '{\"code\":50002}@0.03' (repeatable).")
    var randomFaults: [String] = []

    @Option(help: "The seed of --random-fault.")
    var seed: UInt64 = 1

    @Option(name: .customLong("auth-code"), help: "CODE=TOKEN: an OAuth auth code and the token it grants, once (repeatable).")
    var authCodes: [String] = []

    @Option(help: "The app_id /oauth2/access_token/ accepts.")
    var appID = EmulatorConfiguration().appID

    @Option(help: "The secret /oauth2/access_token/ accepts.")
    var appSecret = EmulatorConfiguration().appSecret

    @Option(help: "Seconds an audience created through /segment/audience/ refuses /segment/mapping/ (HTTP 400, code 40002), as TikTok may for a minute or two.")
    var newAudienceRefusalSeconds: Double = 0

    func validate() throws {
        guard (0...65_535).contains(self.port) else {
            throw ValidationError("--port must be from 0 to 65535.")
        }
        guard self.newAudienceRefusalSeconds >= 0 else {
            throw ValidationError("--new-audience-refusal-seconds must not be negative.")
        }
        guard self.latencyMs >= 0 else {
            throw ValidationError("--latency-ms must not be negative.")
        }
        if let requestsPerSecond, requestsPerSecond < 0 {
            throw ValidationError("--requests-per-second must not be negative.")
        }
        guard Self.isDigitID(self.advertiserID) else {
            throw ValidationError("--advertiser-id must be 1 to 19 digits.")
        }
        if let bad = (self.audiences + self.customerFileAudiences).first(where: { !Self.isDigitID($0) }) {
            throw ValidationError("--audience \(bad) is not 1 to 19 digits.")
        }
        _ = try self.parsedAuthCodes()
        if let accessToken, accessToken.isEmpty {
            throw ValidationError("--access-token must not be empty.")
        }
    }

    func run() async throws {
        var configuration = EmulatorConfiguration(
            host: self.host,
            port: self.port,
            advertiserID: self.advertiserID,
            accessToken: self.resolvedAccessToken(),
            audienceIDs: self.audiences.isEmpty ? EmulatorConfiguration().audienceIDs : self.audiences,
            requestsPerSecondLimit: self.requestsPerSecond,
            latency: .milliseconds(self.latencyMs),
            appID: self.appID,
            appSecret: self.appSecret,
            authCodes: try self.parsedAuthCodes()
        )
        configuration.customerFileAudienceIDs = self.customerFileAudiences
        configuration.randomSeed = self.seed
        configuration.newAudienceRefusal = .milliseconds(Int64(self.newAudienceRefusalSeconds * 1000))
        for text in self.randomFaults {
            do throws(EmulatorFault.AdminJSONError) {
                configuration.randomFaults.append(try RandomFault(parsing: text))
            } catch {
                throw ValidationError("--random-fault \(text): \(error.reason)")
            }
        }
        try await TikTokEmulator.run(configuration) { running in
            // One unbuffered write: scripts wait for this line to learn the port.
            FileHandle.standardOutput.write(Data("listening on \(running.baseURL)\n".utf8))
        }
    }

    /// `--access-token`, else `$TIKTOK_EMULATOR_TOKEN` when set and non-empty, else the default.
    private func resolvedAccessToken() -> String {
        if let accessToken { return accessToken }
        if let fromEnvironment = ProcessInfo.processInfo.environment[Self.tokenEnvironmentVariable],
            !fromEnvironment.isEmpty
        {
            return fromEnvironment
        }
        return EmulatorConfiguration().accessToken
    }

    private func parsedAuthCodes() throws(ValidationError) -> [String: String] {
        var codes: [String: String] = [:]
        for pair in self.authCodes {
            guard let separator = pair.firstIndex(of: "=") else {
                throw ValidationError("--auth-code \(pair) must be CODE=TOKEN.")
            }
            let code = String(pair[..<separator])
            let token = String(pair[pair.index(after: separator)...])
            guard !code.isEmpty, !token.isEmpty else {
                throw ValidationError("--auth-code needs a non-empty CODE and TOKEN, as CODE=TOKEN.")
            }
            codes[code] = token
        }
        return codes
    }

    private static func isDigitID(_ value: String) -> Bool {
        !value.isEmpty && value.count <= 19 && value.allSatisfy { $0.isASCII && $0.isNumber }
    }
}
