/// A 32-byte SHA-256 digest held inline (no heap allocation), ordered bytewise like SQLite orders BLOBs.
public struct Digest32: Hashable, Sendable, Comparable {
    public var w0: UInt64, w1: UInt64, w2: UInt64, w3: UInt64

    public init(w0: UInt64, w1: UInt64, w2: UInt64, w3: UInt64) {
        (self.w0, self.w1, self.w2, self.w3) = (w0, w1, w2, w3)
    }

    /// Reads 32 bytes; words are big-endian so that comparing words compares bytes in order.
    public init(bytes: UnsafeRawBufferPointer) {
        precondition(bytes.count == 32, "Digest32 needs exactly 32 bytes")
        w0 = UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
        w1 = UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
        w2 = UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 16, as: UInt64.self))
        w3 = UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 24, as: UInt64.self))
    }

    public init<D: Sequence<UInt8>>(_ bytes: D) {
        let array = Array(bytes)
        self = array.withUnsafeBytes { Digest32(bytes: $0) }
    }

    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        var words = (w0.bigEndian, w1.bigEndian, w2.bigEndian, w3.bigEndian)
        return try Swift.withUnsafeBytes(of: &words) { try body($0) }
    }

    /// Lowercase hex, the form TikTok receives.
    public var hex: String {
        String(unsafeUninitializedCapacity: 64) { out in
            writeHex(prefix: 32, to: UnsafeMutableRawBufferPointer(out))
            return 64
        }
    }

    /// Writes the first `prefix` bytes (32, or 16 for an MD5 MAID) as lowercase hex, 2 × `prefix`
    /// bytes, at the start of `out`. Inlinable: a request body writes 10,000 of these, and a call
    /// through a closure across modules cost half of building it.
    @inlinable
    public func writeHex(prefix: Int, to out: UnsafeMutableRawBufferPointer) {
        precondition(prefix <= 32 && out.count >= 2 * prefix, "Digest32.writeHex: room for \(prefix) bytes")
        let digits: StaticString = "0123456789abcdef"
        let table = digits.utf8Start
        for position in 0..<prefix {
            let word = position < 8 ? w0 : position < 16 ? w1 : position < 24 ? w2 : w3
            let byte = UInt8(truncatingIfNeeded: word >> (56 - 8 * UInt64(position % 8)))
            out[2 * position] = table[Int(byte >> 4)]
            out[2 * position + 1] = table[Int(byte & 0x0f)]
        }
    }

    public static func < (a: Self, b: Self) -> Bool {
        (a.w0, a.w1, a.w2, a.w3) < (b.w0, b.w1, b.w2, b.w3)
    }
}
