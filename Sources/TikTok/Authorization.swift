import Foundation
import AudienceModel

/// TikTok's OAuth flow for an advertiser token (TIKTOK_API.md "OAuth"), for servers without a browser.
public enum Authorization {
    public static let portal = "https://business-api.tiktok.com/portal/auth"

    /// The page the operator opens (anywhere) to grant "Audience Management".
    public static func authorizationURL(appID: String, state: String, redirectURI: String) -> String {
        var components = URLComponents(string: portal)
        components?.queryItems = [
            URLQueryItem(name: "app_id", value: appID), URLQueryItem(name: "state", value: state),
            URLQueryItem(name: "redirect_uri", value: redirectURI),
        ]
        return components?.string ?? portal
    }

    public struct Grant: Sendable {
        public var accessToken: String
        public var refreshToken: String?
        public var advertiserIDs: [String]
        public var scope: [Int]
    }

    public struct Failure: OperatorError {
        public let summary: String
        /// TikTok's code, when it answered with one.
        public var code: Int? = nil

        /// A wrong app id or secret (40101 INVALID_PARTNER): the configuration, and the code was
        /// not used; otherwise the auth code itself was refused: a new one is needed.
        public var ending: FailureEnding {
            switch code {
            case 40101?: .configuration
            case let code? where AnswerHandling.forCode(code) == .retry(.normal) || AnswerHandling.forCode(code) == .retry(.rateLimited)
                || AnswerHandling.forCode(code) == .retry(.long):
                .retryLater
            default: .inputRejected
            }
        }

        public var description: String {
            switch ending {
            case .configuration:
                "TikTok did not take the app id or secret (\(summary)). Check --app-id and TIKTOK_APP_SECRET (or --app-secret-file): they are the App ID and Secret of your app in TikTok for Business' developer portal (My Apps). The auth code was not used: run the command again with the right ones within its hour; if TikTok then says the code expired, open the authorization URL again."
            case .retryLater:
                "TikTok could not exchange the auth code now (\(summary)). Run the same command again in a minute; the code stays valid for an hour from when it was issued."
            default:
                "TikTok did not exchange the auth code (\(summary)). Auth codes are valid for one hour and only once: open the authorization URL again and use the new code."
            }
        }
    }

    /// Exchanges an auth code for a token.
    public static func exchange(client: TikTokClient, appID: String, secret: String, authCode: String) async throws -> Grant {
        let answer = try await client.exchangeAuthCode(appID: appID, secret: secret, authCode: authCode)
        struct Data: Decodable {
            var access_token: String
            var refresh_token: String?
            var advertiser_ids: [String]?
            var scope: [Int]?
        }
        guard answer.envelope?.code == 0, let data = answer.data(as: Data.self) else {
            throw Failure(summary: answer.summary, code: answer.envelope?.code)
        }
        return Grant(
            accessToken: data.access_token, refreshToken: data.refresh_token, advertiserIDs: data.advertiser_ids ?? [],
            scope: data.scope ?? [])
    }
}
