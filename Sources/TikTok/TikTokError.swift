import AsyncHTTPClient
import NIOCore
import NIOPosix
#if canImport(Glibc)
import Glibc
#endif
import AudienceModel

/// A call to TikTok that got no answer at all: connection refused or reset, timeout, bad URL.
public struct TikTokTransportError: OperatorError {
    /// What kept the answer away; a refused connection never reached TikTok, the others may have.
    public enum Kind: String, Sendable {
        case refused
        case timedOut = "timed_out"
        case connectionLost = "connection_lost"
        case other
    }

    public let kind: Kind
    public let path: String
    public let detail: String

    init(path: String, detail: String, kind: Kind = .other) {
        self.path = path
        self.detail = detail
        self.kind = kind
    }

    /// The kind of an error the HTTP client threw.
    static func kind(of error: any Error) -> Kind {
        if let error = error as? HTTPClientError {
            switch error {
            case .deadlineExceeded, .readTimeout, .writeTimeout, .connectTimeout: return .timedOut
            case .remoteConnectionClosed: return .connectionLost
            default: return .other
            }
        }
        if error is NIOConnectionError { return .refused }
        if let error = error as? IOError, error.errnoCode == ECONNREFUSED { return .refused }
        if let error = error as? IOError, error.errnoCode == ECONNRESET || error.errnoCode == EPIPE { return .connectionLost }
        if error is ChannelError { return .connectionLost }
        return .other
    }

    /// TikTok may answer later.
    public var ending: FailureEnding { .retryLater }

    public var description: String {
        "no answer from TikTok for \(path) (\(kind.rawValue)): \(detail). Check network access and tiktok.base_url."
    }
}
