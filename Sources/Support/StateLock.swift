import Glibc
import AudienceModel

/// An exclusive lock on the state directory, so two daemons never work on one ledger.
/// Held for the life of the process; the kernel releases it when the process dies, even by SIGKILL.
public final class StateLock: Sendable {
    private let descriptor: Int32

    public init(stateDirectory: String) throws {
        let path = stateDirectory + "/lock"
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
}
