import Glibc

/// A stream of bytes read block by block; `read` returns 0 at the end.
protocol ByteSource {
    mutating func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int
}

/// An open regular file. Opening never follows a symlink and never blocks on a FIFO or device:
/// anything that is not a regular file is refused before a byte is read.
final class RegularFile {
    let descriptor: Int32
    let size: Int64
    let modification: timespec
    /// Device and inode: which file this is, whatever its name becomes.
    let identity: FileIdentity
    let path: String

    init(path: String) throws {
        self.path = path
        // Look before opening: a FIFO, device or socket is refused without ever being opened.
        var before = stat()
        if lstat(path, &before) == 0 {
            switch before.st_mode & S_IFMT {
            case S_IFREG: break
            case S_IFLNK:
                throw AudienceFileError(.notRegularFile, "is a symbolic link; links are never followed, copy the file itself")
            default:
                throw AudienceFileError(
                    .notRegularFile, "is not a regular file (a directory, FIFO, socket or device); only regular files are read")
            }
        }
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno
            if code == ELOOP {
                throw AudienceFileError(.notRegularFile, "is a symbolic link; links are never followed, copy the file itself")
            }
            throw AudienceFileError(.unreadable, "cannot be opened: \(String(cString: strerror(code)))")
        }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let code = errno
            close(fd)
            throw AudienceFileError(.unreadable, "cannot be inspected: \(String(cString: strerror(code)))")
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw AudienceFileError(.notRegularFile, "is not a regular file (a directory, FIFO, socket or device); only regular files are read")
        }
        // Regular files never block; clear O_NONBLOCK so reads behave plainly.
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        descriptor = fd
        identity = FileIdentity(info)
        size = Int64(info.st_size)
        modification = info.st_mtim
    }

    deinit { close(descriptor) }

    /// Throws when the file was changed (appended to, truncated or rewritten) since it was opened.
    func ensureUnchanged() throws {
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { return }
        if Int64(info.st_size) != size || info.st_mtim.tv_sec != modification.tv_sec
            || info.st_mtim.tv_nsec != modification.tv_nsec
        {
            throw AudienceFileError(
                .changedWhileReading,
                "changed while it was being read (size \(size) → \(info.st_size)); it will be read again once it settles")
        }
    }

    func rewind() {
        _ = lseek(descriptor, 0, SEEK_SET)
        bytesRead = 0
    }

    /// Bytes read since the last rewind: how far through the file a read has got.
    private(set) var bytesRead: Int64 = 0

    /// Reads from the current offset; retries on EINTR.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        while true {
            let count = Glibc.read(descriptor, buffer.baseAddress, buffer.count)
            if count >= 0 {
                bytesRead += Int64(count)
                return count
            }
            if errno == EINTR { continue }
            throw AudienceFileError(.unreadable, "read failed: \(String(cString: strerror(errno)))")
        }
    }
}

struct FileByteSource: ByteSource {
    let file: RegularFile
    mutating func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        try file.read(into: buffer)
    }
}

/// Which file, in which state: the same inode with another size or modification time is not the
/// file that was read (rows appended after reading must not be archived unapplied).
public struct FileIdentity: Hashable, Sendable {
    public var device: UInt64
    public var inode: UInt64
    public var size: Int64
    public var modifiedSeconds: Int
    public var modifiedNanoseconds: Int

    /// The identity of whatever is at `path` now (not following a symlink).
    public init?(path: String) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return nil }
        self.init(info)
    }

    init(_ info: stat) {
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
        size = Int64(info.st_size)
        modifiedSeconds = info.st_mtim.tv_sec
        modifiedNanoseconds = info.st_mtim.tv_nsec
    }
}
