import ArgumentParser
import Foundation
import AudienceConfig
import AudienceReading
import AudienceTikTok
import AudienceSupport

extension AudienceSyncCommand {
    struct Auth: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Connect a TikTok advertiser account: print the authorization URL, exchange the code, save the token.",
            discussion: """
                Example: TIKTOK_APP_SECRET=… tiktok-audience-sync auth --app-id 7123456789 --listen 8719

                1. tiktok-audience-sync auth --app-id APP   prints the URL; open it anywhere and grant Audience Management.
                2. TikTok redirects to your redirect URI with ?auth_code=…; then
                   TIKTOK_APP_SECRET=… tiktok-audience-sync auth --app-id APP --auth-code CODE
                   (or add --listen PORT to step 1 to receive the redirect on http://127.0.0.1:PORT/ yourself).
                The token is written to tiktok.access_token_file (mode 0600; a refresh token, if any, beside it as
                FILE.refresh) and never printed. A running daemon uses it on its next sending pass.
                """)

        @OptionGroup var options: ConfigOptions

        @Option(help: "Your TikTok app id.")
        var appID: String

        @Option(help: "The auth_code TikTok put in the redirect (valid one hour, once).")
        var authCode: String?

        @Option(help: "The redirect URI registered for the app.")
        var redirectURI: String?

        @Option(help: "Listen on 127.0.0.1:PORT for TikTok's redirect instead of pasting the code.")
        var listen: Int?

        @Option(help: "Read the app secret from this file instead of TIKTOK_APP_SECRET.")
        var appSecretFile: String?

        @Option(help: "Write the token here instead of tiktok.access_token_file.")
        var tokenFile: String?

        func run() async throws {
            let context = try await CommandContext.load(options, resolveToken: false)
            let state = String(UInt64.random(in: 1...UInt64.max), radix: 36)
            let redirect = redirectURI ?? listen.map { "http://127.0.0.1:\($0)/" } ?? "http://127.0.0.1:8719/"
            var code = authCode
            if code == nil {
                say("Open this URL in any browser, sign in, and grant Audience Management:")
                say("  " + Authorization.authorizationURL(appID: appID, state: state, redirectURI: redirect))
                guard let listen else {
                    say("Then run: tiktok-audience-sync auth --app-id \(appID) --auth-code CODE (with TIKTOK_APP_SECRET set)")
                    return
                }
                say("Waiting for TikTok's redirect on http://127.0.0.1:\(listen)/ …")
                do {
                    code = try await LoopbackRedirect.receiveCode(port: listen, expectedState: state)
                } catch {
                    throw fail("\(error)", Exit.inputRejected)
                }
            }
            guard let code else { return }
            let secret: String
            if let appSecretFile {
                guard let text = try? String(contentsOfFile: appSecretFile, encoding: .utf8) else {
                    throw fail("cannot read --app-secret-file \(appSecretFile)", Exit.badConfiguration)
                }
                secret = text.trimmingCharacters(in: .whitespacesAndNewlines)
            } else if let value = ProcessInfo.processInfo.environment["TIKTOK_APP_SECRET"], !value.isEmpty {
                secret = value
            } else {
                throw fail("the app secret is needed: set TIKTOK_APP_SECRET or pass --app-secret-file FILE", Exit.badConfiguration)
            }
            context.redactor.add(secret)
            guard let destination = tokenFile ?? context.configuration.tiktok.accessTokenFile else {
                throw fail(
                    "nowhere to save the token: set tiktok.access_token_file in \(context.configuration.source) or pass --token-file",
                    Exit.badConfiguration)
            }
            let client = TikTokClient(
                baseURL: context.configuration.tiktok.baseURL, advertiserID: context.configuration.tiktok.advertiserID,
                token: nil, timeout: .seconds(30))
            do {
                let grant = try await Authorization.exchange(client: client, appID: appID, secret: secret, authCode: code)
                context.redactor.add(grant.accessToken)
                if let refresh = grant.refreshToken { context.redactor.add(refresh) }
                try TokenStore.save(grant.accessToken, to: destination)
                if let refresh = grant.refreshToken { try TokenStore.save(refresh, to: destination + ".refresh") }
                say("Saved the access token to \(destination) (mode 0600).")
                say("It grants access to advertiser(s): \(grant.advertiserIDs.joined(separator: ", "))")
                if !grant.advertiserIDs.contains(context.configuration.tiktok.advertiserID) {
                    say("Note: tiktok.advertiser_id \(context.configuration.tiktok.advertiserID) is not among them; fix the configuration.")
                }
                say("Next: tiktok-audience-sync check --config \(options.config)")
            } catch {
                throw fail(error, redactor: context.redactor)
            }
        }
    }
}
