import AudienceModel

/// What `GET /user/info/` said of the access token.
public struct TokenCheck: Sendable, Equatable {
    public var accepted: Bool
    /// The name of the account the token belongs to, when TikTok gave it.
    public var displayName: String?
    /// TikTok's code and message, for a refusal.
    public var summary: String
}

extension TikTokClient {
    /// TikTok's limit on a created audience's name; a longer one is cut to 67 characters and "...".
    public static let audienceNameLimit = 70

    /// The name TikTok will show for `name`.
    public static func audienceNameAsShown(_ name: String) -> String {
        name.count > audienceNameLimit ? String(name.prefix(audienceNameLimit - 3)) + "..." : name
    }

    /// Whether TikTok accepts the access token.
    public func checkToken() async throws -> TokenCheck {
        let answer = try await userInfo()
        struct User: Decodable { var display_name: String? }
        guard answer.envelope?.code == 0 else { return TokenCheck(accepted: false, displayName: nil, summary: answer.summary) }
        return TokenCheck(accepted: true, displayName: answer.data(as: User.self)?.display_name, summary: answer.summary)
    }

    /// TikTok's refusal as an answer; for code 0 whose `data` was not what TikTok documents, that.
    private static func refusal<Value>(_ answer: TikTokAnswer) -> AudienceAnswer<Value> {
        guard answer.envelope?.code == 0 else { return .refused(summary: answer.summary, code: answer.envelope?.code) }
        return .refused(
            summary: "TikTok answered code 0 but its data could not be read (request_id=\(answer.envelope?.requestID ?? "-"))", code: 0)
    }

    /// The details of these audiences of the advertiser, 100 per request (TikTok's limit); an id
    /// TikTok does not know is absent from the result.
    public func audienceDetails(ids: [String]) async throws -> AudienceAnswer<[String: AudienceDetails]> {
        struct Page: Decodable {
            struct Entry: Decodable { var audience_details: AudienceDetails }
            var list: [Entry]?
        }
        var found: [String: AudienceDetails] = [:]
        for start in stride(from: 0, to: ids.count, by: 100) {
            let answer = try await audiences(ids: Array(ids[start..<min(start + 100, ids.count)]))
            guard answer.envelope?.code == 0, let page = answer.data(as: Page.self) else {
                return Self.refusal(answer)
            }
            for entry in page.list ?? [] { found[entry.audience_details.id] = entry.audience_details }
        }
        return .answered(found)
    }

    /// One page of the advertiser's audiences, oldest first (`page` from 1, at most 100 a page).
    public func audiencePage(_ page: Int, size: Int = 100) async throws -> AudienceAnswer<AudiencePage> {
        struct Page: Decodable {
            struct Info: Decodable {
                var page: Int?
                var total_page: Int?
                var total_number: Int?
            }
            var list: [AudienceDetails]?
            var page_info: Info?
        }
        let answer = try await audienceList(page: page, pageSize: size)
        guard answer.envelope?.code == 0, let data = answer.data(as: Page.self) else {
            return Self.refusal(answer)
        }
        let list = data.list ?? []
        return .answered(
            AudiencePage(
                audiences: list, page: data.page_info?.page ?? page, totalPages: data.page_info?.total_page ?? page,
                total: data.page_info?.total_number ?? list.count))
    }

    /// Creates a Partner audience (the only kind that takes member changes) and returns its id.
    public func createPartnerAudience(named name: String) async throws -> AudienceAnswer<String> {
        struct Created: Decodable { var audience_id: String }
        let answer = try await changeAudience(["advertiser_id": advertiserID, "action": "create", "custom_audience_name": name])
        guard answer.envelope?.code == 0, let created = answer.data(as: Created.self) else {
            return Self.refusal(answer)
        }
        return .answered(created.audience_id)
    }
}

