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
        withUnsafeBytes { raw in
            String(unsafeUninitializedCapacity: 64) { out in
                let digits: StaticString = "0123456789abcdef"
                digits.withUTF8Buffer { table in
                    for (i, byte) in raw.enumerated() {
                        out[2 * i] = table[Int(byte >> 4)]
                        out[2 * i + 1] = table[Int(byte & 0x0f)]
                    }
                }
                return 64
            }
        }
    }

    public static func < (a: Self, b: Self) -> Bool {
        (a.w0, a.w1, a.w2, a.w3) < (b.w0, b.w1, b.w2, b.w3)
    }
}
