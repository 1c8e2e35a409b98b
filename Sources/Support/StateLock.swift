import Foundation
import Glibc
import AudienceModel

/// An exclusive lock on the state directory, so two daemons never work on one ledger.
/// Held for the life of the process; the kernel releases it when the process dies, even by SIGKILL.
public final class StateLock: Sendable {
    /// Below the state directory.
    public static let fileName = "lock"

    private let descriptor: Int32

    public init(stateDirectory: String) throws {
        let path = stateDirectory + "/" + Self.fileName
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o640)
        guard fd >= 0 else {
            throw InboxError(
                path: path, "cannot create the lock file: \(String(cString: strerror(errno))); check state_directory and its owner",
                ending: FailureEnding(errno: errno))
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            var buffer = [UInt8](repeating: 0, count: 32)
            let count = pread(fd, &buffer, 31, 0)
            let holder = count > 0 ? String(decoding: buffer[..<count], as: UTF8.self).trimmingCharacters(in: "\n ") : "?"
            close(fd)
            throw InboxError(
                path: stateDirectory,
                "another tiktok-audience-sync (pid \(holder)) is working on this state directory; stop it first or use another state_directory")
        }
        let pid = "\(getpid())\n"
        _ = ftruncate(fd, 0)
        _ = pid.withCString { pwrite(fd, $0, strlen($0), 0) }
        descriptor = fd
    }

    deinit { close(descriptor) }

    /// The pid of the process that holds the lock now, without taking it (which would make a
    /// daemon starting at that moment fail): the kernel's list of locks (`/proc/locks`) names the
    /// holder of a lock on the lock file's inode. Nil when nobody holds it.
    /// The pid the last holder wrote into the lock file.
    static func written(_ stateDirectory: String) -> Int32? {
        guard let text = try? String(contentsOfFile: stateDirectory + "/" + fileName, encoding: .utf8) else { return nil }
        return Int32(text.trimmingCharacters(in: "\n "))
    }

    public static func holder(stateDirectory: String) -> Int32? {
        var info = stat()
        guard stat(stateDirectory + "/lock", &info) == 0,
            let table = try? String(contentsOfFile: "/proc/locks", encoding: .utf8)
        else { return nil }
        for line in table.split(separator: "\n") {
            // "1: FLOCK  ADVISORY  WRITE 4242 fd:01:1234567 0 EOF" (device in hex, inode in decimal)
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 6, fields[1] == "FLOCK", let pid = Int32(fields[4]) else { continue }
            let where_ = fields[5].split(separator: ":")
            guard where_.count == 3, UInt64(where_[2]) == UInt64(info.st_ino) else { continue }
            // The same inode number on another filesystem is another file: the holder of ours
            // wrote its pid into it.
            guard written(stateDirectory) == pid else { continue }
            return pid
        }
        return nil
    }
}
