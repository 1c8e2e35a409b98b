import Glibc

/// The free space a file needs before it is taken: its rows go to the ledger's write-ahead log,
/// then into the ledger, and the file itself to `archive/`, all below the state directory.
public enum FreeSpace {
    /// How many times a file's size must be free.
    public static let factor: Int64 = 3

    /// Bytes an unprivileged process may still write where `path` lies; nil when unknown.
    public static func available(at path: String) -> Int64? {
        var info = statvfs()
        guard statvfs(path, &info) == 0 else { return nil }
        return Int64(info.f_bavail) * Int64(info.f_frsize)
    }
}
