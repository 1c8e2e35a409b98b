import AudienceModel

/// What `GET /user/info/` said of the access token.
public struct TokenCheck: Sendable, Equatable {
    public var accepted: Bool
    /// The name of the account the token belongs to, when TikTok gave it.
    public var displayName: String?
    /// TikTok's code and message, for a refusal.
    public var summary: String
}

/// An audience as `GET /dmp/custom_audience/get/` describes it.
public struct AudienceDetails: Sendable, Equatable {
    public var id: String
    public var name: String?
    public var type: String?

    /// Only Partner audiences take member changes through the API (a type TikTok left out counts).
    public var takesMemberChanges: Bool { type.map { $0.lowercased() == "partner" } ?? true }
}

/// What looking audiences up found: the details by id, or TikTok's refusal.
public enum AudienceLookup: Sendable, Equatable {
    case found([String: AudienceDetails])
    case refused(summary: String)
}

extension TikTokClient {
    /// Whether TikTok accepts the access token.
    public func checkToken() async throws -> TokenCheck {
        let answer = try await userInfo()
        struct User: Decodable { var display_name: String? }
        guard answer.envelope?.code == 0 else { return TokenCheck(accepted: false, displayName: nil, summary: answer.summary) }
        return TokenCheck(accepted: true, displayName: answer.data(as: User.self)?.display_name, summary: answer.summary)
    }

    /// The details of these audiences of the advertiser, 100 per request (TikTok's limit); an id
    /// TikTok does not know is absent from the result.
    public func audienceDetails(ids: [String]) async throws -> AudienceLookup {
        struct Page: Decodable {
            struct Entry: Decodable {
                struct Details: Decodable {
                    var audience_id: String
                    var name: String?
                    var type: String?
                }
                var audience_details: Details
            }
            var list: [Entry]?
        }
        var found: [String: AudienceDetails] = [:]
        for start in stride(from: 0, to: ids.count, by: 100) {
            let answer = try await audiences(ids: Array(ids[start..<min(start + 100, ids.count)]))
            guard answer.envelope?.code == 0, let page = answer.data(as: Page.self) else {
                return .refused(summary: answer.summary)
            }
            for entry in page.list ?? [] {
                let details = entry.audience_details
                found[details.audience_id] = AudienceDetails(id: details.audience_id, name: details.name, type: details.type)
            }
        }
        return .found(found)
    }
}
