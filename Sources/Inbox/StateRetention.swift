import Glibc
import AudienceConfig
import AudienceModel
import AudienceSupport

/// Deletes what the state directory's folders have kept longer than `retention:` says. A file's
/// age counts from the later of its change and modification times: the intake's move into a
/// folder sets the change time, so an upload's own old modification time never shortens its
/// stay, and a copy restored from a backup counts as new (kept longer, never shorter).
/// Folders are left in place (a partner's receipts folder is a mount point).
public struct StateRetention: Sendable {
    public struct Report: Sendable, Equatable {
        public var removed: [StateFolder: Int] = [:]
        public var bytes: Int64 = 0
        /// Files that could not be removed, with why (tried again at the next sweep).
        public var failures: [String] = []
        public var isEmpty: Bool { removed.isEmpty && failures.isEmpty }

        /// "archive/ 3 files, receipts/ 3 files (1.2 MB)".
        public var summary: String {
            let parts = removed.sorted { $0.key.rawValue < $1.key.rawValue }.map { "\($0.key.rawValue)/ \($0.value) file(s)" }
            return parts.joined(separator: ", ") + " (\(bytes.formatted(.byteCount(style: .file))))"
        }
    }

    public let stateDirectory: String
    public let retention: Configuration.Retention

    public init(stateDirectory: String, retention: Configuration.Retention) {
        self.stateDirectory = stateDirectory
        self.retention = retention
    }

    /// Removes every file older than its folder's limit, as of `now` (seconds since 1970).
    public func sweep(now: Double) -> Report {
        var report = Report()
        for folder in StateFolder.allCases {
            guard let days = retention.days[folder], days > 0 else { continue }
            let cutoff = now - Double(days) * 86_400
            sweep(folder.path(in: stateDirectory), olderThan: cutoff, folder: folder, into: &report)
        }
        return report
    }

    private func sweep(_ directory: String, olderThan cutoff: Double, folder: StateFolder, into report: inout Report) {
        var subfolders: [String] = []
        for entry in FolderEntries.read(directory) ?? [] {
            let path = directory + "/" + entry.name
            var info = stat()
            guard lstat(path, &info) == 0 else { continue }
            switch info.st_mode & S_IFMT {
            case S_IFDIR:
                subfolders.append(path)
            case S_IFREG, S_IFLNK:
                let changed = Double(info.st_ctim.tv_sec) + Double(info.st_ctim.tv_nsec) / 1e9
                let modified = Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec) / 1e9
                guard max(changed, modified) < cutoff else { continue }
                if unlink(path) == 0 {
                    report.removed[folder, default: 0] += 1
                    report.bytes += Int64(info.st_size)
                } else if errno != ENOENT {
                    report.failures.append("\(path): \(String(cString: strerror(errno)))")
                }
            default:
                continue
            }
        }
        for subfolder in subfolders { sweep(subfolder, olderThan: cutoff, folder: folder, into: &report) }
    }
}
