import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import AudienceModel
import AudienceSupport

/// The only code that knows TikTok's URLs, headers and JSON shapes (TIKTOK_API.md).
public struct TikTokClient: Sendable {
    /// One identifier and the audiences it goes to (or leaves). Most identifiers name one
    /// audience, which is kept inline: 10,000 users in a batch being packed then take no
    /// allocation each.
    public struct User: Sendable {
        public var digest: Digest32
        private var firstAudienceID: String
        private var moreAudienceIDs: [String] = []

        public init(digest: Digest32, audienceID: String) {
            self.digest = digest
            self.firstAudienceID = audienceID
        }

        public var audienceIDs: [String] { [firstAudienceID] + moreAudienceIDs }

        public mutating func add(audienceID: String) {
            moreAudienceIDs.append(audienceID)
        }

        func forEachAudienceID(_ body: (String) -> Void) {
            body(firstAudienceID)
            for audience in moreAudienceIDs { body(audience) }
        }
    }

    public let baseURL: String
    public let advertiserID: String
    private let token: AccessToken?
    private let http: HTTPClient
    private let timeout: TimeAmount

    /// A client on the process's shared HTTP client (``sharedHTTPClient``).
    public init(baseURL: String, advertiserID: String, token: AccessToken?, timeout: Duration = .seconds(60)) {
        self.init(baseURL: baseURL, advertiserID: advertiserID, token: token, http: Self.sharedHTTPClient, timeout: timeout)
    }

    public init(baseURL: String, advertiserID: String, token: AccessToken?, http: HTTPClient, timeout: Duration = .seconds(60)) {
        var base = baseURL
        while base.hasSuffix("/") { base.removeLast() }
        self.baseURL = base
        self.advertiserID = advertiserID
        self.token = token
        self.http = http
        self.timeout = .nanoseconds(Int64(timeout.components.seconds) * 1_000_000_000)
    }

    /// The body of one `POST /segment/mapping/`, built once and sent as often as the request is
    /// tried: while it is in flight, only these bytes are kept of its users.
    public struct MappingBody: Sendable {
        let bytes: ByteBuffer
    }

    /// `POST /segment/mapping/` with a body from ``mappingBody(action:type:users:)``.
    public func mapping(_ body: MappingBody) async throws -> TikTokAnswer {
        try await post("/segment/mapping/", body: body.bytes)
    }

    /// Adds or deletes `users` (one identifier type) in their audiences. The body is built by hand
    /// straight into the buffer that is sent: every value is digits or lowercase hex, so nothing
    /// needs escaping, and 10,000 users serialise in a fraction of what a generic encoder takes.
    public func mappingBody(action: MembershipAction, type: IdentifierType, users: [User]) -> MappingBody {
        var bytes = ByteBuffer()
        bytes.reserveCapacity(96 + users.count * (24 + type.digestByteCount * 2 + 24))
        bytes.writeString("{\"advertiser_ids\":[\"\(advertiserID)\"],\"action\":\"\(action == .add ? "add" : "delete")\",")
        bytes.writeString("\"id_schema\":[\"\(type.schemaName)\"],\"batch_data\":[")
        let count = type.digestByteCount
        for (index, user) in users.enumerated() {
            if index > 0 { bytes.writeInteger(UInt8(ascii: ",")) }
            bytes.writeStaticString("[{\"id\":\"")
            bytes.writeWithUnsafeMutableBytes(minimumWritableBytes: 2 * count) { out in
                user.digest.writeHex(prefix: count, to: out)
                return 2 * count
            }
            bytes.writeStaticString("\",\"audience_ids\":[")
            var separator = false
            user.forEachAudienceID { audience in
                if separator { bytes.writeInteger(UInt8(ascii: ",")) }
                separator = true
                bytes.writeInteger(UInt8(ascii: "\""))
                bytes.writeString(audience)
                bytes.writeInteger(UInt8(ascii: "\""))
            }
            bytes.writeStaticString("]}]")
        }
        bytes.writeStaticString("]}")
        return MappingBody(bytes: bytes)
    }

    /// `GET /user/info/`: checks that the token is accepted.
    public func userInfo() async throws -> TikTokAnswer {
        try await get("/user/info/", query: [])
    }

    /// `GET /dmp/custom_audience/get/` for up to 100 audience ids.
    public func audiences(ids: [String]) async throws -> TikTokAnswer {
        let list = "[" + ids.map { "\"\($0)\"" }.joined(separator: ",") + "]"
        return try await get(
            "/dmp/custom_audience/get/", query: [("advertiser_id", advertiserID), ("custom_audience_ids", list)])
    }

    /// `GET /dmp/custom_audience/list/`: one page of the advertiser's audiences.
    public func audienceList(page: Int, pageSize: Int) async throws -> TikTokAnswer {
        try await get(
            "/dmp/custom_audience/list/",
            query: [("advertiser_id", advertiserID), ("page", String(page)), ("page_size", String(pageSize))])
    }

    /// `POST /segment/audience/` with a body of plain strings (`create` or `delete` a Partner audience).
    public func changeAudience(_ fields: [String: String]) async throws -> TikTokAnswer {
        let data = try JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys])
        return try await post("/segment/audience/", body: ByteBuffer(bytes: data))
    }

    /// `POST /oauth2/access_token/`: exchanges an auth code (no Access-Token header).
    public func exchangeAuthCode(appID: String, secret: String, authCode: String) async throws -> TikTokAnswer {
        let object = ["app_id": appID, "secret": secret, "auth_code": authCode]
        let data = try JSONSerialization.data(withJSONObject: object)
        return try await post("/oauth2/access_token/", body: ByteBuffer(bytes: data), authenticated: false)
    }

    private func post(_ path: String, body: ByteBuffer, authenticated: Bool = true) async throws -> TikTokAnswer {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        if authenticated, let token { request.headers.add(name: "Access-Token", value: token.value) }
        request.body = body.readableBytes > BodySlices.sliceBytes
            ? .stream(BodySlices(body), length: .known(Int64(body.readableBytes))) : .bytes(body)
        return try await execute(request, path: path)
    }

    private func get(_ path: String, query: [(String, String)]) async throws -> TikTokAnswer {
        var components = URLComponents()
        components.queryItems = query.map { URLQueryItem(name: $0.0, value: $0.1) }
        let encoded = components.percentEncodedQuery.map { "?" + $0 } ?? ""
        var request = HTTPClientRequest(url: baseURL + path + encoded)
        request.method = .GET
        if let token { request.headers.add(name: "Access-Token", value: token.value) }
        return try await execute(request, path: path)
    }

    private func execute(_ request: HTTPClientRequest, path: String) async throws -> TikTokAnswer {
        do {
            let response = try await http.execute(request, timeout: timeout)
            let body = try await response.body.collect(upTo: 4 << 20)
            return TikTokAnswer.parse(status: Int(response.status.code), body: Array(buffer: body))
        } catch let error as CancellationError {
            throw error
        } catch {
            let text = token.map { $0.redact(String(describing: error)) } ?? String(describing: error)
            throw TikTokTransportError(path: path, detail: text, kind: TikTokTransportError.kind(of: error))
        }
    }
}


extension TikTokClient {
    /// The HTTP client for TikTok calls: a refused or unreachable connection fails at once (after at
    /// most 10 s), instead of being retried by the pool until the request's deadline; the sender's
    /// own backoff decides what happens next. Lives as long as the process, like `HTTPClient.shared`.
    public static let sharedHTTPClient: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.timeout.connect = .seconds(10)
        configuration.connectionPool.retryConnectionEstablishment = false
        // One connection per request in flight (HTTP/1.1): the pool's default of 8 would cap
        // tiktok.max_in_flight (at most 64) below what slow answers need.
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 64
        // TikTok's API answers; it does not redirect. A redirect is not followed (it would carry the
        // Access-Token elsewhere) but answered like any other unexpected page.
        configuration.redirectConfiguration = .disallow
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()
}

/// A request body handed to the HTTP client in 64 KiB slices of the one buffer (no copy), each
/// written and flushed on its own. Why: over HTTPS, TLS encrypts what one flush carries into a
/// buffer that each connection keeps for its whole life at the largest size it ever reached. A
/// 10,000-identifier body (about 1.1 MB) written at once left a 2 MiB buffer behind on each of
/// up to `max_in_flight` connections (12 by default: +12 MiB RSS measured on a 2M-row file); in
/// slices, each keeps about 128 KiB.
struct BodySlices: AsyncSequence, Sendable {
    static let sliceBytes = 64 * 1024
    let body: ByteBuffer

    init(_ body: ByteBuffer) {
        self.body = body
    }

    struct AsyncIterator: AsyncIteratorProtocol {
        var rest: ByteBuffer

        mutating func next() async -> ByteBuffer? {
            guard rest.readableBytes > 0 else { return nil }
            return rest.readSlice(length: Swift.min(BodySlices.sliceBytes, rest.readableBytes))
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(rest: body) }
}
