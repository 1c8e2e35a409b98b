/// Checks a byte stream block by block: UTF-8 (no overlongs, no surrogates) and no NUL bytes.
/// ASCII, the common case, is checked eight bytes at a time.
struct UTF8Validator {
    enum Failure: Error { case nulByte(offset: Int64), invalid(offset: Int64) }

    private var remaining = 0
    private var lower: UInt8 = 0x80
    private var upper: UInt8 = 0xBF
    private var offset: Int64 = 0

    mutating func validate(_ bytes: UnsafeRawBufferPointer) throws(Failure) {
        let count = bytes.count
        guard let base = bytes.baseAddress else { return }
        var index = 0
        while index < count {
            if remaining == 0 && index + 8 <= count {
                let word = base.loadUnaligned(fromByteOffset: index, as: UInt64.self)
                let highBits: UInt64 = 0x8080_8080_8080_8080
                let ones: UInt64 = 0x0101_0101_0101_0101
                let hasZero = (word &- ones) & ~word & highBits
                if word & highBits == 0 && hasZero == 0 {
                    index += 8
                    continue
                }
            }
            let byte = base.load(fromByteOffset: index, as: UInt8.self)
            if remaining > 0 {
                guard byte >= lower && byte <= upper else { throw .invalid(offset: offset + Int64(index)) }
                remaining -= 1
                lower = 0x80
                upper = 0xBF
            } else if byte == 0 {
                throw .nulByte(offset: offset + Int64(index))
            } else if byte >= 0x80 {
                switch byte {
                case 0xC2...0xDF: remaining = 1
                case 0xE0: remaining = 2; lower = 0xA0
                case 0xE1...0xEC, 0xEE...0xEF: remaining = 2
                case 0xED: remaining = 2; upper = 0x9F
                case 0xF0: remaining = 3; lower = 0x90
                case 0xF1...0xF3: remaining = 3
                case 0xF4: remaining = 3; upper = 0x8F
                default: throw .invalid(offset: offset + Int64(index))
                }
            }
            index += 1
        }
        offset += Int64(count)
    }

    /// Call at the end of the stream: a multi-byte sequence cut off by the end is invalid.
    func finish() throws(Failure) {
        if remaining > 0 { throw .invalid(offset: offset) }
    }
}
