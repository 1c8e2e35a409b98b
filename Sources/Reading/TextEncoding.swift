import Glibc

/// How an audience file's text is encoded, told from its first bytes. UTF-8 is what the reader
/// parses; UTF-16 (what Excel's "Unicode Text" and pandas' `encoding="utf-16"` write) is decoded to
/// UTF-8 while it streams (``UTF16ByteSource``), so that it reads like any other file.
public enum TextEncoding: String, Sendable, Codable {
    case utf8 = "UTF-8"
    case utf16LittleEndian = "UTF-16LE"
    case utf16BigEndian = "UTF-16BE"

    /// What a file's first bytes say, and how many of them are a byte-order mark to skip. UTF-16
    /// has a mark when Excel or Python's `utf-16` codec wrote it; without one (Python's
    /// `utf-16-le`), a header line of ASCII names shows as every other byte zero, which a UTF-8
    /// text never holds (a NUL byte is binary data).
    public static func detect(prefix bytes: some Collection<UInt8>) -> (encoding: TextEncoding, markBytes: Int) {
        let first = Array(bytes.prefix(4))
        if first.count >= 2 && first[0] == 0xFF && first[1] == 0xFE { return (.utf16LittleEndian, 2) }
        if first.count >= 2 && first[0] == 0xFE && first[1] == 0xFF { return (.utf16BigEndian, 2) }
        if first.count == 4 {
            if first[0] != 0 && first[1] == 0 && first[2] != 0 && first[3] == 0 { return (.utf16LittleEndian, 0) }
            if first[0] == 0 && first[1] != 0 && first[2] == 0 && first[3] != 0 { return (.utf16BigEndian, 0) }
        }
        return (.utf8, 0)
    }

    /// Whether the last line of the regular file at `path` ends with a newline, in the file's own
    /// encoding (`\n`, or its two bytes in UTF-16): a plain upload without one looks cut short.
    public static func endsWithNewline(path: String) -> Bool {
        let descriptor = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG, info.st_size > 0 else { return false }
        var head = [UInt8](repeating: 0, count: 4)
        let headCount = pread(descriptor, &head, 4, 0)
        guard headCount > 0 else { return false }
        let encoding = detect(prefix: head.prefix(headCount)).encoding
        switch encoding {
        case .utf8:
            var byte: UInt8 = 0
            return pread(descriptor, &byte, 1, off_t(info.st_size - 1)) == 1 && byte == UInt8(ascii: "\n")
        case .utf16LittleEndian, .utf16BigEndian:
            guard info.st_size >= 2 else { return false }
            var tail: [UInt8] = [0, 0]
            guard pread(descriptor, &tail, 2, off_t(info.st_size - 2)) == 2 else { return false }
            return encoding == .utf16LittleEndian ? tail == [0x0A, 0x00] : tail == [0x00, 0x0A]
        }
    }

    /// For messages: "UTF-16LE (Excel's Unicode Text)".
    public var described: String {
        switch self {
        case .utf8: "UTF-8"
        case .utf16LittleEndian: "UTF-16LE (as Excel's \"Unicode Text\" writes it)"
        case .utf16BigEndian: "UTF-16BE"
        }
    }
}

/// Reads the first bytes of a stream to tell its encoding, then passes UTF-8 on as it is and
/// decodes UTF-16 to UTF-8, block by block: memory stays bounded whatever the file's size.
struct DecodingByteSource<Inner: ByteSource>: ByteSource {
    private var inner: Inner
    private var decoder: UTF16Decoder
    private let decodes: Bool
    /// Bytes read to tell the encoding that are text, handed on before anything else.
    private var sniffed: [UInt8] = []
    private(set) var encoding: TextEncoding = .utf8

    init(_ inner: Inner) throws {
        self.inner = inner
        var head: [UInt8] = []
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4, alignment: 1)
        defer { buffer.deallocate() }
        // Sources may hand out fewer bytes than asked: read until four or the end.
        while head.count < 4 {
            let count = try self.inner.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<(4 - head.count)]))
            if count == 0 { break }
            head.append(contentsOf: buffer[0..<count])
        }
        let (encoding, mark) = TextEncoding.detect(prefix: head)
        self.encoding = encoding
        let rest = Array(head.dropFirst(mark))
        decodes = encoding != .utf8
        decoder = UTF16Decoder(bigEndian: encoding == .utf16BigEndian, pending: decodes ? rest : [])
        if !decodes { sniffed = rest }
    }

    mutating func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard buffer.count > 0 else { return 0 }
        if decodes { return try decoder.read(into: buffer, from: &inner) }
        if !sniffed.isEmpty {
            let count = min(sniffed.count, buffer.count)
            buffer.copyBytes(from: sniffed[0..<count])
            sniffed.removeFirst(count)
            return count
        }
        return try inner.read(into: buffer)
    }
}

/// UTF-16 code units to UTF-8, across reads: a unit or a surrogate pair split between two blocks
/// is carried over; a lone surrogate or an odd byte at the end is an error with its offset.
struct UTF16Decoder {
    let bigEndian: Bool
    /// Undecoded input: a byte left over from the last block (at most one) plus what was read.
    private var input: [UInt8]
    private var position = 0
    /// Encoded output that did not fit into the caller's buffer.
    private var overflow: [UInt8] = []
    private var highSurrogate: UInt16?
    private var ended = false
    /// Bytes of UTF-16 input decoded so far, for error messages.
    private var offset: Int64 = 0
    private static let blockSize = 1 << 16

    init(bigEndian: Bool, pending: [UInt8]) {
        self.bigEndian = bigEndian
        input = pending
    }

    mutating func read<Source: ByteSource>(into buffer: UnsafeMutableRawBufferPointer, from source: inout Source) throws -> Int {
        var written = 0
        func put(_ byte: UInt8) {
            if written < buffer.count {
                buffer[written] = byte
                written += 1
            } else {
                overflow.append(byte)
            }
        }
        while !overflow.isEmpty && written < buffer.count {
            buffer[written] = overflow.removeFirst()
            written += 1
        }
        while written < buffer.count {
            if input.count - position < 2 {
                if ended {
                    if input.count - position == 1 {
                        throw AudienceFileError(
                            .badUTF16, "is not valid UTF-16 text: it ends in the middle of a character (an odd number of bytes)")
                    }
                    if highSurrogate != nil {
                        throw AudienceFileError(.badUTF16, "is not valid UTF-16 text: it ends in the middle of a character (a lone surrogate)")
                    }
                    break
                }
                try refill(from: &source)
                continue
            }
            let first = UInt16(input[position])
            let second = UInt16(input[position + 1])
            let unit = bigEndian ? first << 8 | second : second << 8 | first
            position += 2
            offset += 2
            if let high = highSurrogate {
                guard (0xDC00...0xDFFF).contains(unit) else {
                    throw AudienceFileError(.badUTF16, "is not valid UTF-16 text (a lone surrogate at byte \(offset - 4))")
                }
                highSurrogate = nil
                let scalar = 0x10000 + ((UInt32(high) - 0xD800) << 10) + (UInt32(unit) - 0xDC00)
                put(UInt8(0xF0 | (scalar >> 18)))
                put(UInt8(0x80 | ((scalar >> 12) & 0x3F)))
                put(UInt8(0x80 | ((scalar >> 6) & 0x3F)))
                put(UInt8(0x80 | (scalar & 0x3F)))
                continue
            }
            switch unit {
            case 0..<0x80:
                put(UInt8(unit))
            case 0x80..<0x800:
                put(UInt8(0xC0 | (unit >> 6)))
                put(UInt8(0x80 | (unit & 0x3F)))
            case 0xD800...0xDBFF:
                highSurrogate = unit
            case 0xDC00...0xDFFF:
                throw AudienceFileError(.badUTF16, "is not valid UTF-16 text (a lone surrogate at byte \(offset - 2))")
            default:
                put(UInt8(0xE0 | (unit >> 12)))
                put(UInt8(0x80 | ((unit >> 6) & 0x3F)))
                put(UInt8(0x80 | (unit & 0x3F)))
            }
        }
        return written
    }

    private mutating func refill<Source: ByteSource>(from source: inout Source) throws {
        if position > 0 {
            input.removeFirst(position)
            position = 0
        }
        let start = input.count
        input.append(contentsOf: repeatElement(0, count: Self.blockSize))
        let count = try input.withUnsafeMutableBytes { raw in
            try source.read(into: UnsafeMutableRawBufferPointer(rebasing: raw[start...]))
        }
        input.removeLast(Self.blockSize - count)
        if count == 0 { ended = true }
    }
}
