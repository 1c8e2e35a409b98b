import Glibc

/// Lists the inbox: every file below it that is not a temporary name, oldest first
/// (modification time, then path), so that deltas apply in the order partners sent them.
/// Never follows a symlink; never opens anything.
public struct InboxScanner: Sendable {
    public let root: String
    /// Folders below the root that are not the inbox's (the state directory, when it lies inside).
    public let excluded: Set<String>

    public init(root: String, excluded: Set<String> = []) {
        var root = root
        while root.count > 1 && root.hasSuffix("/") { root.removeLast() }
        self.root = root
        self.excluded = excluded
    }

    public func scan() throws -> [InboxFile] {
        var found: [InboxFile] = []
        try walk(directory: root, relative: "", into: &found)
        // A modification time in the future (a partner's clock ahead) counts as now.
        let now = Double(time(nil))
        return found.sorted { (min($0.modified, now), $0.relativePath) < (min($1.modified, now), $1.relativePath) }
    }

    /// The folders of the inbox (itself included), for the watcher.
    public func folders() -> [String] {
        var result = [root]
        var index = 0
        while index < result.count {
            for (name, type) in entries(of: result[index]) where type == DT_DIR {
                let path = result[index] + "/" + name
                if !excluded.contains(path) && !name.hasPrefix(".") { result.append(path) }
            }
            index += 1
        }
        return result
    }

    private func walk(directory: String, relative: String, into found: inout [InboxFile]) throws {
        guard let stream = opendir(directory) else {
            if relative.isEmpty {
                throw InboxError(path: directory, "cannot list the inbox: \(String(cString: strerror(errno))); check `inbox` in the configuration")
            }
            return
        }
        closedir(stream)
        for (name, _) in entries(of: directory) {
            let path = directory + "/" + name
            let relativePath = relative.isEmpty ? name : relative + "/" + name
            if excluded.contains(path) || UploadNames.isTemporary(name) || UploadNames.isCompletionMarker(name) { continue }
            var info = stat()
            guard lstat(path, &info) == 0 else { continue }
            let partner = relative.isEmpty ? nil : String(relative.split(separator: "/").first ?? "")
            let modified = Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec) / 1e9
            var file = InboxFile(
                path: path, relativePath: relativePath, partner: partner, size: Int64(info.st_size), modified: modified,
                kind: .regular)
            switch info.st_mode & S_IFMT {
            case S_IFDIR:
                try walk(directory: path, relative: relativePath, into: &found)
                continue
            case S_IFREG:
                break
            case S_IFLNK:
                file.kind = .notRegular("is a symbolic link; links are never followed, upload the file itself")
            default:
                file.kind = .notRegular("is not a regular file (a FIFO, socket or device); it was not opened")
            }
            found.append(file)
        }
    }

    private func entries(of directory: String) -> [(String, Int32)] {
        guard let stream = opendir(directory) else { return [] }
        defer { closedir(stream) }
        var result: [(String, Int32)] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name == "." || name == ".." { continue }
            var type = Int32(entry.pointee.d_type)
            if type == DT_UNKNOWN {
                var info = stat()
                if lstat(directory + "/" + name, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR { type = Int32(DT_DIR) }
            }
            result.append((name, type))
        }
        return result
    }
}

public struct InboxError: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let detail: String
    init(path: String, _ detail: String) {
        self.path = path
        self.detail = detail
    }
    public var description: String { "\(path): \(detail)" }
}
