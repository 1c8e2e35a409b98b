/// Splits a byte stream into CSV records: RFC 4180 quoting (doubled quotes inside quoted fields,
/// delimiters and newlines inside quotes), CRLF or LF line ends, a UTF-8 byte-order mark skipped.
///
/// Fields are byte ranges into an internal buffer, valid until the next call to `nextRecord()`, so
/// reading allocates nothing per row. Memory is bounded by `maximumRecordBytes`.
struct CSVRecordReader<Source: ByteSource> {
    var delimiter: UInt8 = UInt8(ascii: ",")
    /// Byte ranges of the current record's fields.
    private(set) var fields: [Range<Int>] = []
    /// The 1-based line where the current record starts.
    private(set) var line = 0
    /// True when the current record had text after a closing quote (`"a"b`).
    private(set) var malformedQuoting = false

    private var source: Source
    private var storage: UnsafeMutableRawBufferPointer
    private let owner: BufferOwner
    private var start = 0
    private var end = 0
    private var sourceEnded = false
    private var nextLine = 1
    private var atStreamStart = true
    private var consumedAny = false
    private var validator = UTF8Validator()
    private var escapedFields: [Int] = []
    private let maximumRecordBytes: Int

    private static var quote: UInt8 { UInt8(ascii: "\"") }
    private static var lineFeed: UInt8 { UInt8(ascii: "\n") }
    private static var carriageReturn: UInt8 { UInt8(ascii: "\r") }

    init(source: Source, maximumRecordBytes: Int = 1 << 20, readSize: Int = 1 << 20) {
        self.source = source
        self.maximumRecordBytes = maximumRecordBytes
        storage = .allocate(byteCount: readSize, alignment: 16)
        owner = BufferOwner(storage)
    }

    /// The bytes of one field of the current record.
    func withField<R>(_ index: Int, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        let range = fields[index]
        return try body(UnsafeRawBufferPointer(rebasing: storage[range]))
    }

    func fieldString(_ index: Int) -> String {
        withField(index) { String(decoding: $0, as: UTF8.self) }
    }

    /// The first line of the stream, without consuming it (for telling the delimiter).
    mutating func peekFirstLine() throws -> [UInt8] {
        while true {
            let window = UnsafeRawBufferPointer(rebasing: storage[start..<end])
            if let newline = window.firstIndex(of: Self.lineFeed) {
                var line = Array(window[..<newline])
                if line.last == Self.carriageReturn { line.removeLast() }
                return line
            }
            if sourceEnded { return Array(window) }
            try refill()
        }
    }

    /// Moves to the next record; false at the end of the stream.
    mutating func nextRecord() throws -> Bool {
        while true {
            if let found = try parseRecord() {
                if found { collapseEscapedQuotes() }
                return found
            }
            try refill()
        }
    }

    /// Parses one record from the buffer; nil when the buffer ends before the record does.
    /// Nothing in the buffer is modified here, so a record cut by the buffer's end can be re-parsed.
    private mutating func parseRecord() throws -> Bool? {
        if start == end { return sourceEnded ? false : nil }
        guard let base = storage.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return false }
        fields.removeAll(keepingCapacity: true)
        escapedFields.removeAll(keepingCapacity: true)
        malformedQuoting = false
        var position = start
        var newlines = 0
        while true {
            if position < end && base[position] == Self.quote {
                var read = position + 1
                var escaped = false
                var closed = false
                while read < end {
                    let byte = base[read]
                    if byte == Self.quote {
                        if read + 1 >= end && !sourceEnded { return nil }
                        if read + 1 < end && base[read + 1] == Self.quote {
                            escaped = true
                            read += 2
                            continue
                        }
                        closed = true
                        break
                    }
                    if byte == Self.lineFeed { newlines += 1 }
                    read += 1
                }
                if !closed {
                    if !sourceEnded { return nil }
                    throw AudienceFileError(
                        .unclosedQuote, line: nextLine, "a quoted field opens here and never closes")
                }
                if escaped { escapedFields.append(fields.count) }
                fields.append((position + 1)..<read)
                position = read + 1
                if position < end {
                    let next = base[position]
                    if next != delimiter && next != Self.lineFeed && next != Self.carriageReturn {
                        malformedQuoting = true
                        while position < end && base[position] != delimiter && base[position] != Self.lineFeed
                            && base[position] != Self.carriageReturn
                        {
                            position += 1
                        }
                    }
                }
            } else {
                let fieldStart = position
                let delimiter = self.delimiter
                while position < end {
                    let byte = base[position]
                    if byte == delimiter || byte == Self.lineFeed || byte == Self.carriageReturn { break }
                    position += 1
                }
                fields.append(fieldStart..<position)
            }
            if position >= end {
                if !sourceEnded { return nil }
                line = nextLine
                nextLine += newlines + 1
                start = end
                return true
            }
            let byte = base[position]
            if byte == delimiter {
                position += 1
                continue
            }
            if byte == Self.carriageReturn {
                if position + 1 >= end && !sourceEnded { return nil }
                position += 1
                if position < end && base[position] == Self.lineFeed { position += 1 }
            } else {
                position += 1
            }
            line = nextLine
            nextLine += newlines + 1
            start = position
            return true
        }
    }

    /// Turns `""` into `"` inside quoted fields, in place; ranges shrink accordingly.
    private mutating func collapseEscapedQuotes() {
        guard !escapedFields.isEmpty, let base = storage.baseAddress?.assumingMemoryBound(to: UInt8.self) else {
            return
        }
        for index in escapedFields {
            let range = fields[index]
            var write = range.lowerBound
            var read = range.lowerBound
            while read < range.upperBound {
                base[write] = base[read]
                read += base[read] == Self.quote ? 2 : 1
                write += 1
            }
            fields[index] = range.lowerBound..<write
        }
    }

    private mutating func refill() throws {
        if start > 0 {
            consumedAny = true
            let remaining = end - start
            if remaining > 0, let base = storage.baseAddress {
                base.copyMemory(from: base + start, byteCount: remaining)
            }
            start = 0
            end = remaining
        }
        if end == storage.count {
            guard storage.count < maximumRecordBytes else {
                throw AudienceFileError(
                    .lineTooLong, line: nextLine,
                    "a line is longer than \(maximumRecordBytes / 1024) KiB; this is not an audience file")
            }
            let larger = UnsafeMutableRawBufferPointer.allocate(byteCount: storage.count * 2, alignment: 16)
            if let base = storage.baseAddress { larger.baseAddress?.copyMemory(from: base, byteCount: end) }
            owner.replace(with: larger)
            storage = larger
        }
        let count = try source.read(into: UnsafeMutableRawBufferPointer(rebasing: storage[end...]))
        do {
            try validator.validate(UnsafeRawBufferPointer(rebasing: storage[end..<(end + count)]))
            if count == 0 { try validator.finish() }
        } catch .nulByte(let offset) {
            throw AudienceFileError(.binary, "contains a NUL byte at byte \(offset): binary data, not a CSV text file")
        } catch .invalid(let offset) {
            throw AudienceFileError(.notUTF8, "is not UTF-8 text (invalid byte sequence at byte \(offset)); export it as UTF-8")
        }
        end += count
        // A byte-order mark counts only at the very start of the stream, however reads split it.
        if atStreamStart && (end >= 3 || count == 0) {
            atStreamStart = false
            if !consumedAny && start == 0 && end >= 3 && storage[0] == 0xEF && storage[1] == 0xBB && storage[2] == 0xBF {
                start = 3
            }
        }
        if count == 0 { sourceEnded = true }
    }
}

private final class BufferOwner {
    private var buffer: UnsafeMutableRawBufferPointer
    init(_ buffer: UnsafeMutableRawBufferPointer) { self.buffer = buffer }
    func replace(with larger: UnsafeMutableRawBufferPointer) {
        buffer.deallocate()
        buffer = larger
    }
    deinit { buffer.deallocate() }
}
