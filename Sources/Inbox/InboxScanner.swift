import CFileBirth
import Glibc
import AudienceSupport

/// Lists the inbox: every file below it that is not a temporary name, in arrival order (see
/// ``InboxFile/arrived``, then path), so that deltas apply in the order partners sent them.
/// Never follows a symlink; never opens anything.
public struct InboxScanner: Sendable {
    public let root: String
    /// Folders below the root that are not the inbox's (the state directory, when it lies inside).
    public let excluded: Set<String>
    /// A file whose name is not UTF-8 is renamed readable only once unchanged this long.
    public let settleSeconds: Double

    /// False for a look that must change nothing (`status`): a name that is not UTF-8 is then
    /// left out instead of renamed.
    public var renamesInvalidNames = true

    public init(root: String, excluded: Set<String> = [], settleSeconds: Double = 0) {
        var root = root
        while root.count > 1 && root.hasSuffix("/") { root.removeLast() }
        self.root = root
        self.excluded = excluded
        self.settleSeconds = settleSeconds
    }

    /// What one walk of the inbox found: its files, and its folders (for the watcher).
    public struct Listing: Sendable {
        public var files: [InboxFile] = []
        /// The inbox and every folder below it that files are read from.
        public var folders: [String] = []
    }

    /// One walk of the inbox: every file, in arrival order, and every folder.
    public func list() throws -> Listing {
        var listing = Listing()
        try walk(directory: root, relative: "", into: &listing)
        listing.files.sort { ($0.arrived, $0.relativePath) < ($1.arrived, $1.relativePath) }
        return listing
    }

    private func walk(directory: String, relative: String, into listing: inout Listing) throws {
        guard let entries = FolderEntries.read(directory) else {
            if relative.isEmpty {
                throw InboxError(path: directory, "cannot list the inbox: \(String(cString: strerror(errno))); check `inbox` in the configuration", ending: errno == ENOENT || errno == EACCES || errno == ENOTDIR ? .configuration : .retryLater)
            }
            return
        }
        listing.folders.append(directory)
        for entry in entries {
            var name = entry.name
            if UploadNames.isTemporary(name) || UploadNames.isCompletionMarker(name) { continue }
            var originalName: String?
            if let rawName = entry.invalidName {
                guard renamesInvalidNames, let renamed = renameToValidUTF8(rawName, in: directory) else { continue }
                (name, originalName) = (renamed, Self.escaped(rawName))
            }
            let path = directory + "/" + name
            let relativePath = relative.isEmpty ? name : relative + "/" + name
            if excluded.contains(path) { continue }
            var info = stat()
            guard lstat(path, &info) == 0 else { continue }
            let partner = relative.isEmpty ? nil : String(relative.split(separator: "/").first ?? "")
            let modified = Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec) / 1e9
            var file = InboxFile(
                path: path, relativePath: relativePath, partner: partner, size: Int64(info.st_size), modified: modified,
                kind: .regular)
            file.arrived = Double(info.st_ctim.tv_sec) + Double(info.st_ctim.tv_nsec) / 1e9
            file.device = UInt64(info.st_dev)
            file.inode = UInt64(info.st_ino)
            var bornSeconds: Int64 = 0
            var bornNanoseconds = 0
            if file_birth(path, &bornSeconds, &bornNanoseconds) == 0 {
                file.born = Double(bornSeconds) + Double(bornNanoseconds) / 1e9
            }
            file.originalName = originalName
            switch info.st_mode & S_IFMT {
            case S_IFDIR:
                try walk(directory: path, relative: relativePath, into: &listing)
                continue
            case S_IFREG:
                break
            case S_IFLNK:
                file.kind = .notRegular("is a symbolic link; links are never followed, upload the file itself")
            default:
                file.kind = .notRegular("is not a regular file (a FIFO, socket or device); it was not opened")
            }
            listing.files.append(file)
        }
    }

    /// A file whose name is not valid UTF-8 could never be named in a receipt, a log line or the
    /// ledger: it is renamed in place, each bad byte written as `_xHH`. Only a regular file that
    /// looks finished (unchanged for `settleSeconds`, and ending with a newline unless gzip): the
    /// rename reaches the watcher as an upload renamed into place, which is taken at once.
    /// Returns the new name, or nil when it is left for now (or the rename failed).
    private func renameToValidUTF8(_ raw: [UInt8], in directory: String) -> String? {
        guard Self.looksFinished(Array(directory.utf8) + [UInt8(ascii: "/")] + raw, settleSeconds: settleSeconds) else {
            return nil
        }
        var readable = ""
        var index = 0
        while index < raw.count {
            // The longest valid prefix from here, then one bad byte.
            var end = min(raw.count, index + 4)
            while end > index, String(validating: raw[index..<end], as: UTF8.self) == nil { end -= 1 }
            if end > index {
                readable += String(decoding: raw[index..<end], as: UTF8.self)
                index = end
            } else {
                readable += "_x" + String(raw[index], radix: 16, uppercase: true).leftPadded
                index += 1
            }
        }
        var candidate = FileName.appending("", to: readable)
        var attempt = 1
        var info = stat()
        while lstat(directory + "/" + candidate, &info) == 0 {
            attempt += 1
            candidate = FileName.appending("-\(attempt)", to: readable)
        }
        let from = Array(directory.utf8) + [UInt8(ascii: "/")] + raw + [0]
        let moved = from.withUnsafeBufferPointer { source in
            source.withMemoryRebound(to: CChar.self) { rename($0.baseAddress, directory + "/" + candidate) == 0 }
        }
        return moved ? candidate : nil
    }

    private static func looksFinished(_ rawPath: [UInt8], settleSeconds: Double) -> Bool {
        let descriptor = (rawPath + [0]).withUnsafeBufferPointer { bytes in
            bytes.withMemoryRebound(to: CChar.self) { open($0.baseAddress!, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC) }
        }
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return false }
        let modified = Double(info.st_mtim.tv_sec)
        let now = Double(time(nil))
        guard modified > now + 1 || now - modified >= settleSeconds else { return false }
        if String(decoding: rawPath.suffix(3), as: UTF8.self).lowercased() == ".gz" || info.st_size == 0 { return true }
        var byte: UInt8 = 0
        return pread(descriptor, &byte, 1, off_t(info.st_size - 1)) == 1 && byte == UInt8(ascii: "\n")
    }

    static func escaped(_ raw: [UInt8]) -> String {
        raw.map { $0 < 0x80 ? String(UnicodeScalar($0)) : "\\x" + String($0, radix: 16, uppercase: true) }.joined()
    }
}


extension String {
    fileprivate var leftPadded: String { count < 2 ? "0" + self : self }
}
