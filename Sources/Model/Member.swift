/// One identifier of one person, as TikTok will receive it.
public struct Member: Hashable, Sendable, Comparable {
    public var type: IdentifierType
    public var digest: Digest32

    public init(type: IdentifierType, digest: Digest32) {
        self.type = type
        self.digest = digest
    }

    public static func < (a: Self, b: Self) -> Bool {
        (a.type.rawValue, a.digest) < (b.type.rawValue, b.digest)
    }

    /// The `id` TikTok receives: lowercase hex of the digest's bytes (32 hex digits for an MD5).
    public var sentHex: String { String(digest.hex.prefix(type.digestByteCount * 2)) }
}

/// What a file asks for one member of one segment.
public enum MembershipAction: UInt8, Sendable {
    case remove = 0
    case add = 1
}

/// A TikTok audience id: a string of 1 to 19 digits, never a number.
public struct SegmentID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let rawValue: String

    public init?(_ text: some StringProtocol) {
        guard (1...19).contains(text.utf8.count), text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
            return nil
        }
        rawValue = String(text)
    }

    public var description: String { rawValue }
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
}
