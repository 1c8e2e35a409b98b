import Glibc

/// Whole-file writes that never leave a half-written file under the final name: a dot-named
/// temporary beside it (so a listing of the folder never shows it), fsync, then rename.
package enum AtomicFile {
    /// Writes `contents` to `path` with `mode`; returns why it failed (with the errno, 0 for a
    /// short write), or nil.
    package static func write(_ contents: [UInt8], to path: String, mode: mode_t) -> (reason: String, code: Int32)? {
        let slash = path.lastIndex(of: "/").map { path.index(after: $0) } ?? path.startIndex
        let temporary = FileName.appending(".tmp-\(getpid())", to: String(path[..<slash]) + "." + String(path[slash...]))
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode)
        guard descriptor >= 0 else { return (String(cString: strerror(errno)), errno) }
        // A leftover temporary keeps its old mode through O_TRUNC.
        let modeSet = fchmod(descriptor, mode) == 0
        let written = contents.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
        let synced = fsync(descriptor) == 0
        close(descriptor)
        guard modeSet, written == contents.count, synced, rename(temporary, path) == 0 else {
            let short = written >= 0 && written < contents.count
            let failure = (short ? "short write" : String(cString: strerror(errno)), short ? 0 : errno)
            unlink(temporary)
            return failure
        }
        return nil
    }
}
