import AsyncHTTPClient
import Foundation
import NIOCore
import Testing
import TikTokEmulator

/// The TikTok emulator, exercised over real HTTP on a loopback port, as the daemon will use it.
@Suite("TikTok emulator")
struct EmulatorTests {
    static let advertiser = "7000000000000000001"
    static let token = "emulator-token"
    /// SHA-256 of "testing@testing.com" (TIKTOK_API.md's known vector).
    static let testingDigest = "584c4423c421df49955759498a71495aba49b8780eb9387dff333b6f0982c777"

    // MARK: Membership

    @Test("a valid add, then a delete, changes membership with set semantics")
    func addThenDelete() async throws {
        try await TikTokEmulator.withRunning { emulator in
            let api = EmulatorAPI(emulator)
            // Given two users, one with an email and a phone (aligned with id_schema), one with only a phone
            let add = Self.mappingBody(
                action: "add",
                schema: ["EMAIL_SHA256", "PHONE_SHA256"],
                users: [
                    [Self.element(Self.digest(1), ["123456", "654321"]), Self.element(Self.digest(2), ["123456"])],
                    ["{}", Self.element(Self.digest(3), ["123456"])],
                ]
            )
            // When they are added (twice: re-adding is fine)
            let first = try await api.post("/segment/mapping/", add)
            let second = try await api.post("/segment/mapping/", add)

            // Then both answers are code 0 with empty data and distinct request ids
            #expect(first.code == 0)
            #expect(second.code == 0)
            #expect(first.status == 200)
            #expect((first.data as? [String: Any])?.isEmpty == true)
            #expect(first.requestID != second.requestID)
            #expect(
                await emulator.state.members(of: "123456")
                    == [
                        EmulatorMember(idType: "EMAIL_SHA256", id: Self.digest(1)),
                        EmulatorMember(idType: "PHONE_SHA256", id: Self.digest(2)),
                        EmulatorMember(idType: "PHONE_SHA256", id: Self.digest(3)),
                    ]
            )
            #expect(await emulator.state.members(of: "654321") == [EmulatorMember(idType: "EMAIL_SHA256", id: Self.digest(1))])

            // When one identifier is deleted, plus one that was never a member
            let delete = Self.mappingBody(
                action: "delete",
                schema: ["PHONE_SHA256"],
                users: [[Self.element(Self.digest(2), ["123456"])], [Self.element(Self.digest(99), ["123456"])]]
            )
            #expect(try await api.post("/segment/mapping/", delete).code == 0)

            // Then only that member is gone
            #expect(await emulator.state.memberCounts() == ["123456": 2, "654321": 1])
            #expect(await emulator.state.mappingRequestCount == 3)
            #expect(await emulator.state.appliedMappingRequestCount == 3)
            #expect(await emulator.state.identifiersReceived == 6)

            // And every request carried the raw token in Access-Token
            let recorded = await emulator.state.requests()
            #expect(recorded.count == 3)
            #expect(recorded.allSatisfy { $0.header("access-token") == Self.token && $0.method == "POST" })
            #expect(recorded.first?.path == "/open_api/v1.3/segment/mapping/")
        }
    }

    // MARK: Validation

    @Test("misaligned batch_data is refused with 40002 and nothing is applied")
    func misalignedBatchData() async throws {
        try await TikTokEmulator.withRunning { emulator in
            let api = EmulatorAPI(emulator)
            // Given a valid first user and a second user with one element for a two-type schema
            let body = Self.mappingBody(
                schema: ["EMAIL_SHA256", "PHONE_SHA256"],
                users: [
                    [Self.element(Self.digest(1), ["123456"]), "{}"],
                    [Self.element(Self.digest(2), ["123456"])],
                ]
            )
            let answer = try await api.post("/segment/mapping/", body)
            #expect(answer.code == 40002)
            #expect(answer.message.contains("batch_data[1]"))
            #expect(answer.message.contains("aligned"))
            #expect(await emulator.state.memberCounts()["123456"] == 0)
            #expect(await emulator.state.appliedMappingRequestCount == 0)
            #expect(await emulator.state.mappingRequestCount == 1)
        }
    }

    @Test("more than 10,000 users in one request is 40061")
    func oversizedBatch() async throws {
        try await TikTokEmulator.withRunning { emulator in
            let api = EmulatorAPI(emulator)
            let users = (0..<10_001).map { [Self.element(Self.digest($0), ["123456"])] }
            let answer = try await api.post("/segment/mapping/", Self.mappingBody(users: users))
            #expect(answer.code == 40061)
            #expect(await emulator.state.memberCounts()["123456"] == 0)

            // 10,000 exactly is fine
            let fitting = Array(users.prefix(10_000))
            #expect(try await api.post("/segment/mapping/", Self.mappingBody(users: fitting)).code == 0)
            #expect(await emulator.state.memberCounts()["123456"] == 10_000)
        }
    }

    struct Refusal: Sendable, CustomTestStringConvertible {
        let name: String
        let body: String
        let code: Int
        let mentions: String
        var testDescription: String { self.name }
    }

    static let refusals: [Refusal] = [
        Refusal(
            name: "advertiser id as a number",
            body: #"{"advertiser_ids":[7000000000000000001],"id_schema":["EMAIL_SHA256"],"batch_data":[[{"id":"\#(digest(1))","audience_ids":["123456"]}]]}"#,
            code: 40002,
            mentions: "advertiser_ids[0]"
        ),
        Refusal(
            name: "another advertiser",
            body: #"{"advertiser_ids":["7000000000000000002"],"id_schema":["EMAIL_SHA256"],"batch_data":[[{"id":"\#(digest(1))","audience_ids":["123456"]}]]}"#,
            code: 40001,
            mentions: "7000000000000000002"
        ),
        Refusal(
            name: "empty advertiser_ids",
            body: #"{"advertiser_ids":[],"id_schema":["EMAIL_SHA256"],"batch_data":[[{"id":"\#(digest(1))","audience_ids":["123456"]}]]}"#,
            code: 40002,
            mentions: "advertiser_ids"
        ),
        Refusal(
            name: "action remove",
            body: #"{"advertiser_ids":["\#(advertiser)"],"action":"remove","id_schema":["EMAIL_SHA256"],"batch_data":[[{"id":"\#(digest(1))","audience_ids":["123456"]}]]}"#,
            code: 40002,
            mentions: "\"remove\""
        ),
        Refusal(
            name: "unknown id type",
            body: #"{"advertiser_ids":["\#(advertiser)"],"id_schema":["GAID_SHA256"],"batch_data":[[{"id":"\#(digest(1))","audience_ids":["123456"]}]]}"#,
            code: 40002,
            mentions: "GAID_SHA256"
        ),
        Refusal(
            name: "duplicate id type",
            body: #"{"advertiser_ids":["\#(advertiser)"],"id_schema":["EMAIL_SHA256","EMAIL_SHA256"],"batch_data":[[{"id":"\#(digest(1))","audience_ids":["123456"]},{}]]}"#,
            code: 40002,
            mentions: "twice"
        ),
        Refusal(
            name: "a user with only {}",
            body: #"{"advertiser_ids":["\#(advertiser)"],"id_schema":["EMAIL_SHA256","PHONE_SHA256"],"batch_data":[[{"id":"\#(digest(1))","audience_ids":["123456"]},{}],[{},{}]]}"#,
            code: 40002,
            mentions: "batch_data[1]"
        ),
        Refusal(
            name: "plaintext email",
            body: #"{"advertiser_ids":["\#(advertiser)"],"id_schema":["EMAIL_SHA256"],"batch_data":[[{"id":"jane@example.com","audience_ids":["123456"]}]]}"#,
            code: 40062,
            mentions: "batch_data[0][0].id"
        ),
        Refusal(
            name: "uppercase hex",
            body: #"{"advertiser_ids":["\#(advertiser)"],"id_schema":["EMAIL_SHA256"],"batch_data":[[{"id":"\#(testingDigest.uppercased())","audience_ids":["123456"]}]]}"#,
            code: 40002,
            mentions: "lowercase"
        ),
        Refusal(
            name: "MD5 length for a SHA-256 type",
            body: #"{"advertiser_ids":["\#(advertiser)"],"id_schema":["EMAIL_SHA256"],"batch_data":[[{"id":"\#(String(digest(1).prefix(32)))","audience_ids":["123456"]}]]}"#,
            code: 40002,
            mentions: "64"
        ),
        Refusal(
            name: "audience id as a number",
            body: #"{"advertiser_ids":["\#(advertiser)"],"id_schema":["EMAIL_SHA256"],"batch_data":[[{"id":"\#(digest(1))","audience_ids":[123456]}]]}"#,
            code: 40002,
            mentions: "audience_ids[0]"
        ),
        Refusal(
            name: "empty audience_ids",
            body: #"{"advertiser_ids":["\#(advertiser)"],"id_schema":["EMAIL_SHA256"],"batch_data":[[{"id":"\#(digest(1))","audience_ids":[]}]]}"#,
            code: 40002,
            mentions: "audience_ids"
        ),
        Refusal(
            name: "unknown audience",
            body: #"{"advertiser_ids":["\#(advertiser)"],"id_schema":["EMAIL_SHA256"],"batch_data":[[{"id":"\#(digest(1))","audience_ids":["123456","999999"]}]]}"#,
            code: 40002,
            mentions: "999999"
        ),
        Refusal(
            name: "not JSON",
            body: #"{"advertiser_ids":["#,
            code: 40002,
            mentions: "JSON"
        ),
    ]

    @Test("invalid mapping requests are refused with a precise message and nothing applied", arguments: refusals)
    func invalidMapping(_ refusal: Refusal) async throws {
        try await TikTokEmulator.withRunning { emulator in
            let answer = try await EmulatorAPI(emulator).post("/segment/mapping/", refusal.body)
            #expect(answer.status == 200)
            #expect(answer.code == refusal.code, "\(answer.message)")
            #expect(answer.message.contains(refusal.mentions), "\(answer.message)")
            #expect(await emulator.state.memberCounts().values.allSatisfy { $0 == 0 })
            #expect(await emulator.state.appliedMappingRequestCount == 0)
        }
    }

    @Test("a body not declared as JSON is refused")
    func contentTypeMustBeJSON() async throws {
        try await TikTokEmulator.withRunning { emulator in
            let body = Self.mappingBody(users: [[Self.element(Self.digest(1), ["123456"])]])
            let answer = try await EmulatorAPI(emulator).post("/segment/mapping/", body, contentType: "text/plain")
            #expect(answer.code == 40002)
            #expect(answer.message.contains("Content-Type"))
            #expect(await emulator.state.memberCounts()["123456"] == 0)
        }
    }

    @Test("an unknown audience is refused naming it; a refused audience too")
    func unknownAndRefusedAudiences() async throws {
        try await TikTokEmulator.withRunning { emulator in
            let api = EmulatorAPI(emulator)
            let unknown = try await api.post(
                "/segment/mapping/",
                Self.mappingBody(users: [[Self.element(Self.digest(1), ["424242"])]])
            )
            #expect(unknown.code == 40002)
            #expect(unknown.message.contains("424242"))

            await emulator.state.setRefusedAudiences(["654321"])
            let refused = try await api.post(
                "/segment/mapping/",
                Self.mappingBody(users: [[Self.element(Self.digest(1), ["123456"])], [Self.element(Self.digest(2), ["654321"])]])
            )
            #expect(refused.code == 40002)
            #expect(refused.message.contains("654321"))
            #expect(await emulator.state.memberCounts() == ["123456": 0, "654321": 0])

            await emulator.state.addAudience("424242")
            #expect(
                try await api.post("/segment/mapping/", Self.mappingBody(users: [[Self.element(Self.digest(1), ["424242"])]])).code
                    == 0
            )
        }
    }

    // MARK: Authentication

    @Test("a wrong token is 40105 and a missing one 40104, on every route")
    func tokens() async throws {
        try await TikTokEmulator.withRunning { emulator in
            let api = EmulatorAPI(emulator)
            let body = Self.mappingBody(users: [[Self.element(Self.digest(1), ["123456"])]])
            #expect(try await api.post("/segment/mapping/", body, token: "wrong").code == 40105)
            #expect(try await api.post("/segment/mapping/", body, token: nil).code == 40104)
            #expect(try await api.get("/user/info/", token: "Bearer \(Self.token)").code == 40105)
            #expect(try await api.get("/user/info/", token: nil).code == 40104)
            #expect(await emulator.state.memberCounts()["123456"] == 0)

            // Rotating the token revokes the old one
            await emulator.state.setAccessToken("rotated")
            #expect(try await api.get("/user/info/").code == 40105)
            let info = try await api.get("/user/info/", token: "rotated")
            #expect(info.code == 0)
            #expect((info.data as? [String: Any])?["display_name"] as? String == "Emulator user")
        }
    }

    @Test("an audience created through /segment/audience/ refuses writes (HTTP 400, code 40002) until it is ready; audiences that existed before take them")
    func newAudienceRefusesWrites() async throws {
        var configuration = EmulatorConfiguration()
        configuration.newAudienceRefusal = .seconds(3_600)
        try await TikTokEmulator.withRunning(configuration) { emulator in
            let api = EmulatorAPI(emulator)
            let created = try await api.post(
                "/segment/audience/", #"{"advertiser_id":"\#(Self.advertiser)","action":"create","custom_audience_name":"Fresh"}"#)
            let id = try #require((created.data as? [String: Any])?["audience_id"] as? String)
            func add(_ audience: String) -> String {
                #"{"advertiser_ids":["\#(Self.advertiser)"],"action":"add","id_schema":["EMAIL_SHA256"],"batch_data":[[{"id":"\#(String(repeating: "a", count: 64))","audience_ids":["\#(audience)"]}]]}"#
            }
            let refused = try await api.post("/segment/mapping/", add(id))
            #expect(refused.status == 400)
            #expect(refused.code == 40002)
            #expect(refused.message.contains("not ready"))
            #expect(await emulator.state.members(of: id).isEmpty)
            #expect(try await api.post("/segment/mapping/", add("123456")).code == 0, "an audience that existed before is not new")
            await emulator.state.makeAudienceReady(id)
            #expect(try await api.post("/segment/mapping/", add(id)).code == 0)
            #expect(await emulator.state.members(of: id).count == 1)
        }
    }

    @Test("an auth code is exchanged for a token once; wrong app credentials are 40101, a used code 40110, as TikTok's list says")
    func authCodeExchange() async throws {
        let configuration = EmulatorConfiguration(authCodes: ["code-1": "granted-token"])
        try await TikTokEmulator.withRunning(configuration) { emulator in
            let api = EmulatorAPI(emulator)
            let wrongSecret = try await api.post(
                "/oauth2/access_token/",
                #"{"app_id":"emulator-app","secret":"nope","auth_code":"code-1"}"#,
                token: nil
            )
            #expect(wrongSecret.code == 40101, "INVALID_PARTNER: the app id or secret")

            let exchange = #"{"app_id":"emulator-app","secret":"emulator-secret","auth_code":"code-1"}"#
            let first = try await api.post("/oauth2/access_token/", exchange, token: nil)
            #expect(first.code == 0)
            let data = try #require(first.data as? [String: Any])
            #expect(data["access_token"] as? String == "granted-token")
            #expect(data["advertiser_ids"] as? [String] == [Self.advertiser])
            #expect(data["scope"] as? [Int] == [4])

            let again = try await api.post("/oauth2/access_token/", exchange, token: nil)
            #expect(again.code == 40110, "AUTH_CODE_ERROR: a code works once")

            #expect(try await api.get("/user/info/", token: "granted-token").code == 0)
        }
    }

    // MARK: Faults

    @Test("an enqueued 40100 fault answers once, then requests are handled normally")
    func enqueuedCodeFault() async throws {
        try await TikTokEmulator.withRunning { emulator in
            let api = EmulatorAPI(emulator)
            await emulator.state.enqueue([
                .code(40100, message: "Too many requests"),
                .code(40200, message: "Task not ready", httpStatus: 400),
            ])
            let body = Self.mappingBody(users: [[Self.element(Self.digest(1), ["123456"])]])

            let limited = try await api.post("/segment/mapping/", body)
            #expect(limited.status == 200)
            #expect(limited.code == 40100)
            #expect(await emulator.state.memberCounts()["123456"] == 0)

            let notReady = try await api.post("/segment/mapping/", body)
            #expect(notReady.status == 400)
            #expect(notReady.code == 40200)

            let normal = try await api.post("/segment/mapping/", body)
            #expect(normal.code == 0)
            #expect(await emulator.state.memberCounts()["123456"] == 1)
            #expect(await emulator.state.mappingRequestCount == 3)
            #expect(await emulator.state.appliedMappingRequestCount == 1)
        }
    }

    @Test("a gateway fault answers 503 with a body that is not JSON, and applies nothing")
    func gatewayFault() async throws {
        try await TikTokEmulator.withRunning { emulator in
            await emulator.state.enqueue([.gatewayError(status: 503)])
            let body = Self.mappingBody(users: [[Self.element(Self.digest(1), ["123456"])]])
            let answer = try await EmulatorAPI(emulator).post("/segment/mapping/", body)
            #expect(answer.status == 503)
            #expect(answer.json == nil)
            #expect(answer.body.contains("<html>"))
            #expect(await emulator.state.memberCounts()["123456"] == 0)
            #expect(await emulator.state.mappingRequestCount == 1)
        }
    }

    @Test("applyThenFail applies the change, then answers 504 without an envelope")
    func applyThenFail() async throws {
        try await TikTokEmulator.withRunning { emulator in
            await emulator.state.enqueue([.applyThenFail(status: 504)])
            let body = Self.mappingBody(users: [[Self.element(Self.digest(1), ["123456"])]])
            let answer = try await EmulatorAPI(emulator).post("/segment/mapping/", body)
            #expect(answer.status == 504)
            #expect(answer.json == nil)
            #expect(await emulator.state.members(of: "123456") == [EmulatorMember(idType: "EMAIL_SHA256", id: Self.digest(1))])
            #expect(await emulator.state.appliedMappingRequestCount == 1)
        }
    }

    @Test("applyThenDropConnection applies the change, then hangs up without answering")
    func applyThenDrop() async throws {
        try await TikTokEmulator.withRunning { emulator in
            await emulator.state.enqueue([.applyThenDropConnection])
            let body = Self.mappingBody(users: [[Self.element(Self.digest(1), ["123456"])]])
            await #expect(throws: (any Error).self) {
                _ = try await EmulatorAPI(emulator).post("/segment/mapping/", body)
            }
            #expect(await emulator.state.memberCounts()["123456"] == 1)
            #expect(await emulator.state.mappingRequestCount == 1)
        }
    }

    @Test("a delay fault and configured latency slow the answer, then the request is handled normally")
    func delayAndLatency() async throws {
        let configuration = EmulatorConfiguration(latency: .milliseconds(100))
        try await TikTokEmulator.withRunning(configuration) { emulator in
            await emulator.state.enqueue([.delay(.milliseconds(200))])
            let body = Self.mappingBody(users: [[Self.element(Self.digest(1), ["123456"])]])
            let clock = ContinuousClock()
            let start = clock.now
            let answer = try await EmulatorAPI(emulator).post("/segment/mapping/", body)
            #expect(clock.now - start >= .milliseconds(300))
            #expect(answer.code == 0)
            #expect(await emulator.state.memberCounts()["123456"] == 1)
        }
    }

    @Test("with members traced, every change to a member is listed with its request and how it landed")
    func memberTrace() async throws {
        var configuration = EmulatorConfiguration()
        configuration.traceMembers = true
        try await TikTokEmulator.withRunning(configuration) { emulator in
            let api = EmulatorAPI(emulator)
            let member = EmulatorMember(idType: "EMAIL_SHA256", id: Self.digest(1))
            #expect(try await api.post("/segment/mapping/", Self.mappingBody(users: [[Self.element(Self.digest(1), ["123456"])]])).code == 0)
            await emulator.state.enqueue([.landLate(after: .milliseconds(100), status: 504)])
            let late = try await api.post("/segment/mapping/", Self.mappingBody(action: "delete", users: [[Self.element(Self.digest(1), ["123456"])]]))
            #expect(late.status == 504)
            #expect(await emulator.state.waitUntil { $0.trace(of: member).count == 2 })
            let trace = await emulator.state.trace(of: member)
            #expect(trace.map(\.description) == [
                "request 1: add in 123456, applied before its answer",
                "request 2: delete in 123456, applied late, after its answer",
            ])
            #expect(trace.count == 2 && trace[1].at - trace[0].at >= .milliseconds(100))
            #expect(await emulator.state.members(of: "123456").isEmpty)
        }
    }

    @Test("above the per-second limit, mapping calls get 40100")
    func rateLimit() async throws {
        try await TikTokEmulator.withRunning(EmulatorConfiguration(requestsPerSecondLimit: 1)) { emulator in
            let api = EmulatorAPI(emulator)
            let body = Self.mappingBody(users: [[Self.element(Self.digest(1), ["123456"])]])
            // Six at once: whatever the machine's load, several fall in the same second.
            let answers = try await withThrowingTaskGroup(of: (code: Int?, status: Int).self) { group in
                for _ in 0..<6 {
                    group.addTask {
                        let answer = try await api.post("/segment/mapping/", body)
                        return (answer.code, Int(answer.status))
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            let limited = answers.filter { $0.code == 40100 }
            #expect(!limited.isEmpty, "\(answers)")
            #expect(limited.allSatisfy { $0.status == 200 }, "TikTok says it in the envelope, with HTTP 200")
            #expect(answers.allSatisfy { $0.code == 0 || $0.code == 40100 })
            #expect(await emulator.state.appliedMappingRequestCount == answers.count - limited.count, "a limited call changes nothing")
            #expect(await emulator.state.mappingRequestCount == 6)

            await emulator.state.setRequestsPerSecondLimit(nil)
            #expect(try await api.post("/segment/mapping/", body).code == 0)
        }
    }

    // MARK: Audiences

    @Test("custom_audience/get returns the known ids only")
    func customAudienceGet() async throws {
        try await TikTokEmulator.withRunning { emulator in
            let api = EmulatorAPI(emulator)
            let query = "advertiser_id=\(Self.advertiser)&custom_audience_ids=" + Self.percentEncoded(#"["123456","999999"]"#)
            let answer = try await api.get("/dmp/custom_audience/get/?" + query)
            #expect(answer.code == 0)
            let list = try #require((answer.data as? [String: Any])?["list"] as? [[String: Any]])
            #expect(list.count == 1)
            let details = try #require(list.first?["audience_details"] as? [String: Any])
            #expect(details["audience_id"] as? String == "123456")
            #expect(details["audience_type"] as? String == "Partner", "TikTok's field is audience_type, not type")
            #expect(details["type"] == nil)
            #expect(details["is_expiring"] as? Bool == false)
            #expect(details["is_valid"] as? Bool == true)
            #expect(details["cover_num"] as? Int == 0)
            #expect(details["create_time"] is String)

            let numbers = try await api.get(
                "/dmp/custom_audience/get/?advertiser_id=\(Self.advertiser)&custom_audience_ids="
                    + Self.percentEncoded("[123456]")
            )
            #expect(numbers.code == 40002)
            let missing = try await api.get("/dmp/custom_audience/get/?advertiser_id=\(Self.advertiser)")
            #expect(missing.code == 40002)
        }
    }

    @Test("a Customer File audience is listed with its type and refuses mapping; expiry shows as TikTok shows it")
    func audienceTypesAndExpiry() async throws {
        try await TikTokEmulator.withRunning { emulator in
            let api = EmulatorAPI(emulator)
            await emulator.state.addAudience("333", type: EmulatorState.customerFileType)
            let mapping = try await api.post("/segment/mapping/", Self.mappingBody(users: [[Self.element(Self.digest(1), ["333"])]]))
            #expect(mapping.code == 40002)
            #expect(mapping.message.contains("Partner"))
            #expect(await emulator.state.memberCounts()["333"] == 0)

            let now = Int(Date().timeIntervalSince1970)
            await emulator.state.setAudienceState("123456", expiresAt: now + 10 * 86_400)
            await emulator.state.setAudienceState("654321", expiresAt: now - 60)
            let listed = try await api.get("/dmp/custom_audience/list/?advertiser_id=\(Self.advertiser)&page=1&page_size=100")
            let list = try #require((listed.data as? [String: Any])?["list"] as? [[String: Any]])
            let byID = Dictionary(uniqueKeysWithValues: list.compactMap { item in (item["audience_id"] as? String).map { ($0, item) } })
            #expect(byID["333"]?["audience_type"] as? String == "Customer File Audience")
            #expect(byID["123456"]?["is_expiring"] as? Bool == true)
            #expect(byID["123456"]?["is_valid"] as? Bool == true)
            #expect((byID["123456"]?["expired_time"] as? String)?.count == 19, "yyyy-MM-dd HH:mm:ss")
            #expect(byID["654321"]?["is_valid"] as? Bool == false, "an expired audience is not valid")
            #expect(byID["654321"]?["is_expiring"] as? Bool == false)
        }
    }

    @Test("a name over 70 characters is cut to 67 and \"...\", as TikTok does")
    func longAudienceName() async throws {
        try await TikTokEmulator.withRunning { emulator in
            let api = EmulatorAPI(emulator)
            let name = String(repeating: "n", count: 80)
            let created = try await api.post(
                "/segment/audience/", #"{"advertiser_id":"\#(Self.advertiser)","action":"create","custom_audience_name":"\#(name)"}"#)
            let id = try #require((created.data as? [String: Any])?["audience_id"] as? String)
            let listed = try await api.get("/dmp/custom_audience/list/?advertiser_id=\(Self.advertiser)&page=1&page_size=100")
            let list = try #require((listed.data as? [String: Any])?["list"] as? [[String: Any]])
            #expect(list.first { $0["audience_id"] as? String == id }?["name"] as? String == String(repeating: "n", count: 67) + "...")
        }
    }

    @Test("a created audience accepts members, is listed, and can be deleted")
    func createListDeleteAudience() async throws {
        try await TikTokEmulator.withRunning { emulator in
            let api = EmulatorAPI(emulator)
            let created = try await api.post(
                "/segment/audience/",
                #"{"advertiser_id":"\#(Self.advertiser)","action":"create","custom_audience_name":"Trial"}"#
            )
            #expect(created.code == 0)
            let id = try #require((created.data as? [String: Any])?["audience_id"] as? String)
            #expect(id.allSatisfy { $0.isNumber })

            let body = Self.mappingBody(users: [[Self.element(Self.digest(1), [id])]])
            #expect(try await api.post("/segment/mapping/", body).code == 0)
            #expect(await emulator.state.memberCounts()[id] == 1)

            let listed = try await api.get("/dmp/custom_audience/list/?advertiser_id=\(Self.advertiser)&page=1&page_size=100")
            let list = try #require((listed.data as? [String: Any])?["list"] as? [[String: Any]])
            #expect(list.compactMap { $0["audience_id"] as? String } == ["123456", "654321", id])

            let deleted = try await api.post(
                "/segment/audience/",
                #"{"advertiser_id":"\#(Self.advertiser)","action":"delete","delete_audience_id":"\#(id)"}"#
            )
            #expect(deleted.code == 0)
            #expect(try await api.post("/segment/mapping/", body).code == 40002)
        }
    }

    // MARK: Routes

    @Test("an unknown route is HTTP 404 with a 40400 envelope")
    func unknownRoute() async throws {
        try await TikTokEmulator.withRunning { emulator in
            let api = EmulatorAPI(emulator)
            let unknown = try await api.get("/segment/nothing/")
            #expect(unknown.status == 404)
            #expect(unknown.code == 40400)
            let wrongMethod = try await api.get("/segment/mapping/")
            #expect(wrongMethod.status == 404)
            #expect(wrongMethod.message.contains("POST"))
        }
    }

    @Test("admin routes show members and counters and queue faults")
    func adminRoutes() async throws {
        try await TikTokEmulator.withRunning { emulator in
            let api = EmulatorAPI(emulator)
            let queued = try await api.raw("POST", emulator.rootURL + "/_emulator/faults", body: #"[{"code":40100},{"gateway_status":503},{"apply_then_fail":504}]"#)
            #expect(queued.status == 200)
            #expect(await emulator.state.queuedFaultCount == 3)

            let body = Self.mappingBody(users: [[Self.element(Self.digest(2), ["123456"])], [Self.element(Self.digest(1), ["123456"])]])
            #expect(try await api.post("/segment/mapping/", body).code == 40100)
            #expect(try await api.post("/segment/mapping/", body).status == 503)
            #expect(try await api.post("/segment/mapping/", body).status == 504)

            let members = try await api.raw("GET", emulator.rootURL + "/_emulator/members?audience_id=123456")
            let memberList = try #require((members.json as? [String: Any])?["members"] as? [[String: String]])
            #expect(memberList.map { $0["id"] } == [Self.digest(1), Self.digest(2)])
            #expect(memberList.first?["id_type"] == "EMAIL_SHA256")

            let stats = try #require(try await api.raw("GET", emulator.rootURL + "/_emulator/stats").json as? [String: Any])
            #expect(stats["mapping_requests"] as? Int == 3)
            #expect(stats["applied_mapping_requests"] as? Int == 1)
            #expect(stats["identifiers_received"] as? Int == 2)
            #expect((stats["member_counts"] as? [String: Int])?["123456"] == 2)

            let bad = try await api.raw("POST", emulator.rootURL + "/_emulator/faults", body: #"[{"nonsense":1}]"#)
            #expect(bad.status == 400)
        }
    }

    @Test("the server is gone once withRunning returns, even when the body throws")
    func shutsDown() async throws {
        struct Expected: Error {}
        let client = HTTPClient.shared
        var capturedURL = ""
        await #expect(throws: Expected.self) {
            try await TikTokEmulator.withRunning { emulator in
                capturedURL = emulator.baseURL
                throw Expected()
            }
        }
        let url = capturedURL
        await #expect(throws: (any Error).self) {
            _ = try await client.execute(HTTPClientRequest(url: url + "/user/info/"), timeout: .seconds(1))
        }
    }

    @Test("a port already in use makes withRunning throw instead of hanging")
    func busyPort() async throws {
        try await TikTokEmulator.withRunning { first in
            let error = await #expect(throws: (any Error).self) {
                try await TikTokEmulator.withRunning(EmulatorConfiguration(port: first.port)) { _ in }
            }
            #expect(error != nil)
        }
    }

    // MARK: Helpers

    /// A 64-hex-character stand-in for a SHA-256 digest, distinct for each number.
    static func digest(_ number: Int) -> String {
        let hex = String(number, radix: 16)
        return String(repeating: "0", count: 64 - hex.count) + hex
    }

    static func element(_ id: String, _ audiences: [String]) -> String {
        #"{"id":"\#(id)","audience_ids":[\#(audiences.map { "\"\($0)\"" }.joined(separator: ","))]}"#
    }

    static func mappingBody(action: String = "add", schema: [String] = ["EMAIL_SHA256"], users: [[String]]) -> String {
        let schemaJSON = schema.map { "\"\($0)\"" }.joined(separator: ",")
        let usersJSON = users.map { "[" + $0.joined(separator: ",") + "]" }.joined(separator: ",")
        return #"{"advertiser_ids":["\#(advertiser)"],"action":"\#(action)","id_schema":[\#(schemaJSON)],"batch_data":[\#(usersJSON)]}"#
    }

    static func percentEncoded(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? text
    }
}

/// A thin client for the emulator's TikTok routes.
struct EmulatorAPI {
    struct Answer {
        let status: Int
        let body: String
        /// The parsed body, nil when it is not JSON.
        let json: Any?

        var code: Int? { (self.json as? [String: Any])?["code"] as? Int }
        var message: String { (self.json as? [String: Any])?["message"] as? String ?? "" }
        var requestID: String? { (self.json as? [String: Any])?["request_id"] as? String }
        var data: Any? { (self.json as? [String: Any])?["data"] }
    }

    let emulator: RunningEmulator

    init(_ emulator: RunningEmulator) {
        self.emulator = emulator
    }

    func post(
        _ path: String,
        _ body: String,
        token: String? = EmulatorTests.token,
        contentType: String = "application/json"
    ) async throws -> Answer {
        var headers = [("Content-Type", contentType)]
        if let token { headers.append(("Access-Token", token)) }
        return try await self.raw("POST", self.emulator.baseURL + path, headers: headers, body: body)
    }

    func get(_ pathAndQuery: String, token: String? = EmulatorTests.token) async throws -> Answer {
        let headers = token.map { [("Access-Token", $0)] } ?? []
        return try await self.raw("GET", self.emulator.baseURL + pathAndQuery, headers: headers)
    }

    func raw(_ method: String, _ url: String, headers: [(String, String)] = [], body: String? = nil) async throws -> Answer {
        var request = HTTPClientRequest(url: url)
        request.method = .init(rawValue: method)
        for (name, value) in headers {
            request.headers.add(name: name, value: value)
        }
        if let body {
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let bytes = try await response.body.collect(upTo: 16 * 1_024 * 1_024)
        let text = String(buffer: bytes)
        let json = try? JSONSerialization.jsonObject(with: Data(text.utf8))
        return Answer(status: Int(response.status.code), body: text, json: json)
    }
}
