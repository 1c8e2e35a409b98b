import Crypto
import AudienceModel

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

    /// A plain email: trimmed and lowercased, its `+tag` (and dots) dropped from the local part as
    /// `rules` say, then hashed.
    static func email(_ raw: UnsafeRawBufferPointer, rules: IdentifierRules) -> Result<Digest32, RejectReason> {
        emailForm(raw, rules: rules).map { sha256($0) }
    }

    static func emailForm(_ raw: UnsafeRawBufferPointer, rules: IdentifierRules) -> Result<[UInt8], RejectReason> {
        let cell = trimmed(raw)
        guard let at = cell.firstIndex(of: UInt8(ascii: "@")), at > cell.startIndex, at < cell.endIndex - 1,
            !cell.contains(where: { $0 == 0x20 || $0 == 0x09 })
        else { return .failure(.badEmail) }
        var lowered: [UInt8]
        if cell.allSatisfy({ $0 < 0x80 }) {
            lowered = cell.map { ($0 >= 0x41 && $0 <= 0x5A) ? $0 + 0x20 : $0 }
        } else {
            lowered = Array(String(decoding: cell, as: UTF8.self).lowercased().utf8)
        }
        guard rules.emailRemovesPlusTag || rules.emailRemovesDots,
            let atIndex = lowered.firstIndex(of: UInt8(ascii: "@"))
        else { return .success(lowered) }
        var local = Array(lowered[..<atIndex])
        if rules.emailRemovesPlusTag, let plus = local.firstIndex(of: UInt8(ascii: "+")), plus > 0 {
            local.removeSubrange(plus...)
        }
        if rules.emailRemovesDots {
            let undotted = local.filter { $0 != UInt8(ascii: ".") }
            if !undotted.isEmpty { local = undotted }
        }
        return .success(local + lowered[atIndex...])
    }

    /// A plain phone number with its country code; spaces, dots, dashes and brackets dropped. As
    /// `rules.phoneForm` says: digits only (a leading `+` optional in the input), or E.164 with the
    /// `+` (which the input must then have).
    static func phone(_ raw: UnsafeRawBufferPointer, rules: IdentifierRules) -> Result<Digest32, RejectReason> {
        phoneForm(raw, rules: rules).map { sha256($0) }
    }

    static func phoneForm(_ raw: UnsafeRawBufferPointer, rules: IdentifierRules) -> Result<[UInt8], RejectReason> {
        var digits: [UInt8] = []
        digits.reserveCapacity(16)
        var plus = false
        for byte in trimmed(raw) {
            switch byte {
            case UInt8(ascii: " "), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "("), UInt8(ascii: ")"):
                continue
            case UInt8(ascii: "+") where digits.isEmpty && !plus:
                plus = true
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                digits.append(byte)
            default:
                return .failure(.badPhone)
            }
        }
        guard (7...15).contains(digits.count), digits[0] != UInt8(ascii: "0") else { return .failure(.badPhone) }
        switch rules.phoneForm {
        case .digits: return .success(digits)
        case .e164: return plus ? .success([UInt8(ascii: "+")] + digits) : .failure(.badPhone)
        }
    }

    /// A mobile advertising id (IDFA or AAID): a UUID, trimmed and lowercased with its hyphens, then
    /// hashed with SHA-256; or a value already hashed: 64 hex digits (SHA-256). 32 hex digits are an
    /// MD5 (which TikTok takes for MAIDs) or a UUID written without hyphens; `hex32` says which
    /// (``IdentifierRules/MAID32Hex``), or that the row is rejected.
    static func maid(_ raw: UnsafeRawBufferPointer, hex32: IdentifierRules.MAID32Hex = .md5) -> Result<(digest: Digest32, md5: Bool), RejectReason> {
        let cell = trimmed(raw)
        switch cell.count {
        case 64:
            guard let digest = decodeHex64(cell) else { return .failure(.badMAID) }
            return .success((digest, false))
        case 32:
            guard let digest = decodeHex32(cell), digest != Digest32(w0: 0, w1: 0, w2: 0, w3: 0) else { return .failure(.badMAID) }
            switch hex32 {
            case .md5: return .success((digest, true))
            case .reject: return .failure(.ambiguousMAID)
            case .uuid:
                var hyphenated: [UInt8] = []
                hyphenated.reserveCapacity(36)
                for (offset, byte) in cell.enumerated() {
                    if offset == 8 || offset == 12 || offset == 16 || offset == 20 { hyphenated.append(UInt8(ascii: "-")) }
                    hyphenated.append(byte)
                }
                return hyphenated.withUnsafeBytes { maidUUID($0[...]) }.map { (sha256($0), false) }
            }
        case 36:
            return maidUUID(cell).map { (sha256($0), false) }
        default:
            return .failure(.badMAID)
        }
    }

    /// Whether 32 hex digits are laid out as a random (version 4) UUID without its hyphens, as IDFAs
    /// and AAIDs are: a '4' at digit 13 and 8, 9, a or b at digit 17. An MD5 is so one time in 64.
    static func looksLikeUUID(_ raw: UnsafeRawBufferPointer) -> Bool {
        let cell = trimmed(raw)
        guard cell.count == 32 else { return false }
        let base = cell.startIndex
        let variant = cell[base + 16] | 0x20
        return cell[base + 12] == UInt8(ascii: "4")
            && (variant == UInt8(ascii: "8") | 0x20 || variant == UInt8(ascii: "9") | 0x20 || variant == UInt8(ascii: "a")
                || variant == UInt8(ascii: "b"))
    }

    /// A UUID lowercased with its hyphens, the form TikTok hashes; the all-zero id (what a device
    /// reports when its user opted out of tracking) is refused.
    static func maidUUID(_ cell: Slice<UnsafeRawBufferPointer>) -> Result<[UInt8], RejectReason> {
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
        if allZero { return .failure(.badMAID) }
        return .success(lowered)
    }

    /// 32 hex digits (an MD5) as the first 16 bytes of a digest, the rest zero.
    static func decodeHex32(_ cell: Slice<UnsafeRawBufferPointer>) -> Digest32? {
        guard cell.count == 32 else { return nil }
        let base = UnsafeRawBufferPointer(rebasing: cell)
        guard let w0 = hexWord(base, 0), let w1 = hexWord(base, 1) else { return nil }
        return Digest32(w0: w0, w1: w1, w2: 0, w3: 0)
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

    /// 64 hex digits (any case) as a digest, 8 digits at a time: the per-digit loop was a tenth
    /// of reading a file of hashes.
    static func decodeHex64(_ cell: Slice<UnsafeRawBufferPointer>) -> Digest32? {
        guard cell.count == 64 else { return nil }
        let base = UnsafeRawBufferPointer(rebasing: cell)
        guard let w0 = hexWord(base, 0), let w1 = hexWord(base, 1), let w2 = hexWord(base, 2), let w3 = hexWord(base, 3)
        else { return nil }
        return Digest32(w0: w0, w1: w1, w2: w2, w3: w3)
    }

    /// The `index`th 16 hex digits of `base` as a big-endian word.
    @inline(__always)
    static func hexWord(_ base: UnsafeRawBufferPointer, _ index: Int) -> UInt64? {
        guard let high = decodeHex8(base.loadUnaligned(fromByteOffset: index * 16, as: UInt64.self)),
            let low = decodeHex8(base.loadUnaligned(fromByteOffset: index * 16 + 8, as: UInt64.self))
        else { return nil }
        return UInt64(high) << 32 | UInt64(low)
    }

    /// Eight ASCII hex digits, loaded little-endian (first digit in the lowest byte), as their value;
    /// nil if any byte is not `0-9`, `a-f` or `A-F`. Each byte range test adds a constant that
    /// carries into the byte's top bit exactly when the byte is at or above a bound (bytes under
    /// 0x80 never carry into their neighbour).
    @inline(__always)
    static func decodeHex8(_ littleEndianDigits: UInt64) -> UInt32? {
        let x = UInt64(littleEndian: littleEndianDigits)
        let ones: UInt64 = 0x0101_0101_0101_0101
        let tops: UInt64 = 0x8080_8080_8080_8080
        guard x & tops == 0 else { return nil }
        func atLeast(_ bound: UInt64, _ value: UInt64) -> UInt64 { (value &+ (0x80 &- bound) &* ones) & tops }
        let isDigit = atLeast(0x30, x) & ~atLeast(0x3A, x)
        let folded = x | 0x2020_2020_2020_2020  // 'A'-'F' → 'a'-'f'; digits keep bit 5
        let isLetter = atLeast(0x61, folded) & ~atLeast(0x67, folded)
        guard isDigit | isLetter == tops else { return nil }
        // Digit bytes: the low nibble; letter bytes: the low nibble + 9 ('a' = 0x61 → 1 + 9).
        var v = (x & 0x0F0F_0F0F_0F0F_0F0F) &+ (isLetter >> 7) &* 9
        // Byte i holds digit i; pack them, first digit most significant.
        v = ((v << 4) | (v >> 8)) & 0x00FF_00FF_00FF_00FF
        v = ((v << 8) | (v >> 16)) & 0x0000_FFFF_0000_FFFF
        v = ((v << 16) | (v >> 32)) & 0x0000_0000_FFFF_FFFF
        return UInt32(truncatingIfNeeded: v)
    }

    /// A short, safe description of a rejected value for reports: its column and first characters.
    static func redactedSample(_ raw: UnsafeRawBufferPointer, column: String) -> String {
        let cell = trimmed(raw)
        if cell.isEmpty { return "\(column) is empty" }
        let prefix = String(decoding: cell.prefix(4), as: UTF8.self)
        return "\(column)=\(prefix)… (\(cell.count) characters)"
    }
}
