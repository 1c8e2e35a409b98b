import CZlib

/// Decompresses a gzip stream on the fly, in bounded memory.
///
/// Concatenated gzip members (what `cat a.gz b.gz` or pigz produce) are read as one stream. A stream
/// that ends before its trailer (CRC and length) is a truncated upload and is an error, so a
/// half-uploaded `.gz` can never be applied. The decompressed size is bounded to stop gzip bombs.
struct GzipByteSource<Inner: ByteSource>: ByteSource {
    private var inner: Inner
    private let stream: UnsafeMutablePointer<z_stream>
    private let input: UnsafeMutableRawBufferPointer
    private var innerEnded = false
    private var memberEnded = false
    private var producedTotal: Int64 = 0
    private let limit: Int64
    private let owner: StreamOwner

    init(_ inner: Inner, maximumDecompressedBytes: Int64) throws {
        self.inner = inner
        limit = maximumDecompressedBytes
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        input = .allocate(byteCount: 256 * 1024, alignment: 16)
        // 15 + 16: gzip wrapper only, with its CRC and length check.
        let status = inflateInit2_(stream, 15 + 16, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        owner = StreamOwner(stream: stream, input: input, initialised: status == Z_OK)
        guard status == Z_OK else {
            throw AudienceFileError(.corruptGzip, "gzip decoder could not start (zlib status \(status))")
        }
    }

    /// Fills `buffer` whole, as a regular file's read does, unless the stream ends first. Returning
    /// early (say at each member's end) would let an upload of many one-byte members reach the CSV
    /// reader one byte per read, and it re-parses an unfinished line from its start at every read.
    mutating func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
        var filled = 0
        while filled < buffer.count {
            if stream.pointee.avail_in == 0 && !innerEnded {
                let count = try inner.read(into: input)
                innerEnded = count == 0
                stream.pointee.next_in = input.baseAddress?.assumingMemoryBound(to: Bytef.self)
                stream.pointee.avail_in = uInt(count)
            }
            if memberEnded {
                if stream.pointee.avail_in == 0 {
                    if innerEnded { return filled }
                    continue
                }
                // Another gzip member follows the one that ended.
                inflateReset(stream)
                memberEnded = false
            }
            if stream.pointee.avail_in == 0 && innerEnded {
                throw AudienceFileError(
                    .truncatedGzip,
                    "gzip data ends before its trailer: the upload is incomplete or the file was cut short")
            }
            let space = buffer.count - filled
            stream.pointee.next_out = (base + filled).assumingMemoryBound(to: Bytef.self)
            stream.pointee.avail_out = uInt(space)
            let status = inflate(stream, Z_NO_FLUSH)
            let produced = space - Int(stream.pointee.avail_out)
            switch status {
            case Z_STREAM_END:
                memberEnded = true
            case Z_OK, Z_BUF_ERROR:
                break
            default:
                let reason = stream.pointee.msg.map { String(cString: $0) } ?? "status \(status)"
                throw AudienceFileError(.corruptGzip, "is not valid gzip data (\(reason))")
            }
            producedTotal += Int64(produced)
            if producedTotal > limit {
                throw AudienceFileError(
                    .tooLarge,
                    "decompresses to more than \(limit) bytes (max_decompressed_bytes); refused as a possible gzip bomb")
            }
            filled += produced
        }
        return filled
    }
}

/// Frees the zlib state when the last copy of the source goes away.
private final class StreamOwner {
    let stream: UnsafeMutablePointer<z_stream>
    let input: UnsafeMutableRawBufferPointer
    let initialised: Bool

    init(stream: UnsafeMutablePointer<z_stream>, input: UnsafeMutableRawBufferPointer, initialised: Bool) {
        self.stream = stream
        self.input = input
        self.initialised = initialised
    }

    deinit {
        if initialised { inflateEnd(stream) }
        stream.deinitialize(count: 1)
        stream.deallocate()
        input.deallocate()
    }
}
