import Foundation

/// TikTok's answer envelope: `{"code", "message", "request_id", "data"}`.
public struct TikTokEnvelope: Sendable, Equatable {
    public var code: Int
    public var message: String
    public var requestID: String
}

/// One answer as the sender and commands see it.
public struct TikTokAnswer: Sendable {
    public var httpStatus: Int
    /// Nil when the body was not an envelope (a gateway page, say): then the HTTP status decides.
    public var envelope: TikTokEnvelope?
    /// The start of a body that was not an envelope, for the log.
    public var bodySnippet: String
    private var body: [UInt8]

    public var handling: AnswerHandling {
        if let envelope { return .forCode(envelope.code) }
        return .forHTTPStatus(httpStatus)
    }

    /// Whether TikTok may have applied the request although it did not say code 0: a gateway
    /// failure without an envelope, or one of TikTok's system or timeout codes (5xxxx). A refusal
    /// with a 4xxxx code (rate limit, bad parameter) is sure: nothing was applied.
    public var mayHaveBeenApplied: Bool {
        guard let envelope else { return true }
        return envelope.code >= 50_000
    }

    /// "code 40002 PARAM_ERROR "message" request_id=X" or "HTTP 503 without a TikTok envelope (snippet)".
    public var summary: String {
        if let envelope {
            let id = envelope.requestID.isEmpty ? "-" : envelope.requestID
            return "code \(ReturnCode.described(envelope.code)) \"\(envelope.message)\" request_id=\(id)"
        }
        return "HTTP \(httpStatus) without a TikTok envelope (\(bodySnippet))"
    }

    /// Decodes the envelope's `data` object.
    public func data<T: Decodable>(as type: T.Type) -> T? {
        try? JSONDecoder().decode(DataWrapper<T>.self, from: Data(body)).data
    }

    static func parse(status: Int, body: [UInt8]) -> TikTokAnswer {
        struct Envelope: Decodable {
            var code: Int
            var message: String?
            var request_id: String?
        }
        if let envelope = try? JSONDecoder().decode(Envelope.self, from: Data(body)) {
            return TikTokAnswer(
                httpStatus: status,
                envelope: TikTokEnvelope(
                    code: envelope.code, message: envelope.message ?? "", requestID: envelope.request_id ?? ""),
                bodySnippet: "", body: body)
        }
        let text = String(decoding: body.prefix(120), as: UTF8.self)
            .split(whereSeparator: \.isNewline).joined(separator: " ")
        return TikTokAnswer(httpStatus: status, envelope: nil, bodySnippet: text, body: body)
    }
}

private struct DataWrapper<T: Decodable>: Decodable {
    var data: T
}
