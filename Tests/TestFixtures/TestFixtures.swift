import CZlib
import Crypto
import Foundation

// Small pieces both test targets need.

/// Lowercase hex SHA-256 of `text`: an identifier as partners send it.
public func sha256Hex(_ text: String) -> String {
    let digest = SHA256.hash(data: Array(text.utf8))
    return String(unsafeUninitializedCapacity: 64) { out in
        var index = 0
        for byte in digest {
            out[index] = hexDigits[Int(byte >> 4)]
            out[index + 1] = hexDigits[Int(byte & 0x0f)]
            index += 2
        }
        return 64
    }
}

private let hexDigits = Array("0123456789abcdef".utf8)

/// Runs `body` on a thread of its own: building large test data must not hold one of the few
/// cooperative threads that every other test (and the emulator) shares.
public func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        Thread { continuation.resume(returning: body()) }.start()
    }
}

/// A small deterministic generator (SplitMix64), so that every run tests the same cases.
public struct SeededRandom: RandomNumberGenerator {
    public var state: UInt64

    public init(state: UInt64) { self.state = state }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var value = state
        value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
        value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
        return value ^ (value >> 31)
    }
}

/// `bytes` as one gzip member, made in-process with zlib.
public func gzip(_ bytes: [UInt8], level: Int32 = 6) -> [UInt8] {
    var stream = z_stream()
    precondition(
        deflateInit2_(&stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK)
    defer { deflateEnd(&stream) }
    var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, uLong(bytes.count))) + 64)
    var input = bytes
    let status = input.withUnsafeMutableBufferPointer { input in
        output.withUnsafeMutableBufferPointer { output in
            stream.next_in = input.baseAddress
            stream.avail_in = uInt(input.count)
            stream.next_out = output.baseAddress
            stream.avail_out = uInt(output.count)
            return deflate(&stream, Z_FINISH)
        }
    }
    precondition(status == Z_STREAM_END)
    return Array(output[..<Int(stream.total_out)])
}

public func gzip(_ text: String) -> [UInt8] { gzip(Array(text.utf8)) }

/// Leaves a bound UNIX socket file at `path` (the descriptor is closed; the file stays).
public func bindUnixSocket(at path: String) -> Bool {
    let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    guard descriptor >= 0 else { return false }
    defer { close(descriptor) }
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    let bytes = Array(path.utf8)
    guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return false }
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
        raw.copyBytes(from: bytes)
        raw[bytes.count] = 0
    }
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    } == 0
}

/// Which of some paths anyone opened since it started: inotify's IN_OPEN, which the kernel reports
/// for every open of the inode, FIFOs and device nodes included (the watch follows the inode when
/// it is renamed; IN_DONT_FOLLOW watches a link itself, not what it points to).
public final class OpenWatcher {
    private let descriptor: Int32
    private var watches: [Int32: String] = [:]
    private var seen: [String] = []

    public init(paths: [String]) throws {
        descriptor = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard descriptor >= 0 else { throw CocoaError(.fileReadUnknown) }
        for path in paths {
            let watch = inotify_add_watch(descriptor, path, UInt32(IN_OPEN) | UInt32(IN_DONT_FOLLOW))
            if watch >= 0 { watches[watch] = path }
        }
    }

    deinit { close(descriptor) }

    /// Every path opened so far (a path opened twice is listed twice).
    public func openedPaths() -> [String] {
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count <= 0 { break }
            var offset = 0
            while offset + MemoryLayout<inotify_event>.size <= count {
                let (watch, mask, length) = buffer.withUnsafeBytes { raw in
                    let event = raw.loadUnaligned(fromByteOffset: offset, as: inotify_event.self)
                    return (event.wd, event.mask, Int(event.len))
                }
                if mask & UInt32(IN_OPEN) != 0, let path = watches[watch] { seen.append(path) }
                offset += MemoryLayout<inotify_event>.size + length
            }
        }
        return seen
    }
}

/// A TCP port on 127.0.0.1 that nothing listens on right now.
public func freeLoopbackPort() throws -> Int {
    let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(socket) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address -> Bool in
            bind(socket, address, length) == 0 && getsockname(socket, address, &length) == 0
        }
    }
    guard bound else { throw CocoaError(.fileWriteUnknown, userInfo: [NSLocalizedDescriptionKey: "bind: \(String(cString: strerror(errno)))"]) }
    return Int(UInt16(bigEndian: address.sin_port))
}
