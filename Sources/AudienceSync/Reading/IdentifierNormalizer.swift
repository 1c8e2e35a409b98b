import Crypto

/// Turns one cell into the digest TikTok receives, following TIKTOK_API.md's normalisation rules,
/// so that the same person always hashes the same (otherwise deletes silently miss).
enum IdentifierNormalizer {
    /// A pre-hashed SHA-256 cell: 64 hex digits, any case.
    static func sha256Hex(_ raw: UnsafeRawBufferPointer) -> Result<Digest32, RejectReason> {
        let cell = trimmed(raw)
        if cell.count == 64, let digest = decodeHex64(cell) { return .success(digest) }
        if cell.count == 32 && cell.allSatisfy(isHexDigit) { return .failure(.md5NotAccepted) }
        if cell.contains(UInt8(ascii: "@")) { return .failure(.plainEmailInHashColumn) }
        return .failure(.notSHA256)
    }

    /// A plain email: trimmed and lowercased, then hashed.
    static func email(_ raw: UnsafeRawBufferPointer) -> Result<Digest32, RejectReason> {
        let cell = trimmed(raw)
        guard let at = cell.firstIndex(of: UInt8(ascii: "@")), at > cell.startIndex, at < cell.endIndex - 1,
            !cell.contains(where: { $0 == 0x20 || $0 == 0x09 })
        else { return .failure(.badEmail) }
        let lowered: [UInt8]
        if cell.allSatisfy({ $0 < 0x80 }) {
            lowered = cell.map { ($0 >= 0x41 && $0 <= 0x5A) ? $0 + 0x20 : $0 }
        } else {
            lowered = Array(String(decoding: cell, as: UTF8.self).lowercased().utf8)
        }
        return .success(sha256(lowered))
    }

    /// A plain phone number in E.164: `+` and 7 to 15 digits; spaces, dots, dashes and brackets dropped.
    static func phone(_ raw: UnsafeRawBufferPointer) -> Result<Digest32, RejectReason> {
        var normalized: [UInt8] = []
        normalized.reserveCapacity(16)
        for byte in trimmed(raw) {
            switch byte {
            case UInt8(ascii: " "), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "("), UInt8(ascii: ")"):
                continue
            case UInt8(ascii: "+") where normalized.isEmpty, UInt8(ascii: "0")...UInt8(ascii: "9"):
                normalized.append(byte)
            default:
                return .failure(.badPhone)
            }
        }
        guard normalized.first == UInt8(ascii: "+"), (8...16).contains(normalized.count),
            normalized[1] != UInt8(ascii: "0")
        else { return .failure(.badPhone) }
        return .success(sha256(normalized))
    }

    /// A mobile advertising id (IDFA or AAID): a UUID, trimmed and lowercased with its hyphens, then hashed.
    static func maid(_ raw: UnsafeRawBufferPointer) -> Result<Digest32, RejectReason> {
        let cell = trimmed(raw)
        guard cell.count == 36 else { return .failure(.badMAID) }
        var lowered = [UInt8](repeating: 0, count: 36)
        var allZero = true
        for (offset, byte) in cell.enumerated() {
            if offset == 8 || offset == 13 || offset == 18 || offset == 23 {
                guard byte == UInt8(ascii: "-") else { return .failure(.badMAID) }
                lowered[offset] = byte
                continue
            }
            guard isHexDigit(byte) else { return .failure(.badMAID) }
            let lower = (byte >= 0x41 && byte <= 0x46) ? byte + 0x20 : byte
            if lower != UInt8(ascii: "0") { allZero = false }
            lowered[offset] = lower
        }
        // The all-zero id is what a device reports when the user opted out of tracking.
        if allZero { return .failure(.badMAID) }
        return .success(sha256(lowered))
    }

    static func sha256(_ bytes: [UInt8]) -> Digest32 {
        SHA256.hash(data: bytes).withUnsafeBytes { Digest32(bytes: $0) }
    }

    static func trimmed(_ raw: UnsafeRawBufferPointer) -> Slice<UnsafeRawBufferPointer> {
        var lower = 0
        var upper = raw.count
        while lower < upper && (raw[lower] == 0x20 || raw[lower] == 0x09) { lower += 1 }
        while upper > lower && (raw[upper - 1] == 0x20 || raw[upper - 1] == 0x09) { upper -= 1 }
        return raw[lower..<upper]
    }

    static func isHexDigit(_ byte: UInt8) -> Bool { hexValue(byte) != nil }

    @inline(__always)
    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: byte - 0x30
        case 0x61...0x66: byte - 0x61 + 10
        case 0x41...0x46: byte - 0x41 + 10
        default: nil
        }
    }

    static func decodeHex64(_ cell: Slice<UnsafeRawBufferPointer>) -> Digest32? {
        var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        var index = cell.startIndex
        for word in 0..<4 {
            var value: UInt64 = 0
            for _ in 0..<16 {
                guard let nibble = hexValue(cell[index]) else { return nil }
                value = value << 4 | UInt64(nibble)
                index += 1
            }
            switch word {
            case 0: words.0 = value
            case 1: words.1 = value
            case 2: words.2 = value
            default: words.3 = value
            }
        }
        return Digest32(w0: words.0, w1: words.1, w2: words.2, w3: words.3)
    }

    /// A short, safe description of a rejected value for reports: its column and first characters.
    static func redactedSample(_ raw: UnsafeRawBufferPointer, column: String) -> String {
        let cell = trimmed(raw)
        if cell.isEmpty { return "\(column) is empty" }
        let prefix = String(decoding: cell.prefix(4), as: UTF8.self)
        return "\(column)=\(prefix)… (\(cell.count) characters)"
    }
}
