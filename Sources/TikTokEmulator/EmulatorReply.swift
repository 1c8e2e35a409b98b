/// How the emulator answers one request, before it is turned into HTTP.
enum EmulatorReply: Sendable {
    /// TikTok's envelope `{"code", "message", "request_id", "data"}`; the request id is added when sent.
    case envelope(status: Int, code: Int, message: String, data: JSONValue)
    /// A plain JSON document (admin routes only; TikTok's routes always use the envelope).
    case json(status: Int, body: JSONValue)
    /// A gateway failure: this status with an HTML body that is not JSON.
    case gateway(status: Int)
    /// Close the connection without answering.
    case dropConnection

    /// Code 0 with `data`.
    static func success(_ data: JSONValue = .object([JSONMember]())) -> EmulatorReply {
        .envelope(status: 200, code: 0, message: "OK", data: data)
    }

    /// The envelope for a refusal; `data` is `{}` as at TikTok.
    static func failure(_ error: TikTokAPIError) -> EmulatorReply {
        .envelope(status: error.httpStatus, code: error.code, message: error.message, data: .object([JSONMember]()))
    }

    /// An admin-route error: `{"error": message}`.
    static func adminError(status: Int, _ message: String) -> EmulatorReply {
        .json(status: status, body: .object(["error": .string(message)]))
    }
}
