import Glibc

/// Free space on the file system holding a path.
package enum FreeSpace {
    /// Bytes an unprivileged process may still write where `path` lies; nil when unknown.
    package static func available(at path: String) -> Int64? {
        var info = statvfs()
        guard statvfs(path, &info) == 0 else { return nil }
        return Int64(info.f_bavail) * Int64(info.f_frsize)
    }
}
