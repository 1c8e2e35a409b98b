import Glibc
import AudienceReading
import AudienceSupport
import AudienceModel

/// Moves files out of the inbox (to `archive/` or `rejected/`) and writes reports beside them.
/// The only code that moves or writes files in the inbox and state directory.
public struct FileMover: Sendable {
    public let stateDirectory: String

    public init(stateDirectory: String) {
        self.stateDirectory = stateDirectory
    }

    /// Where `file` goes in `folder`: `folder/<its relative path>`, with a suffix if that name is
    /// taken. Nothing is moved (its folders are made): the receipt names the place before the
    /// file leaves the inbox. Relative to the state directory.
    public func freeName(for file: InboxFile, in folder: StateFolder, suffix: String) throws -> String {
        var relative = folder.rawValue + "/" + file.relativePath
        let directory = String(relative.split(separator: "/").dropLast().joined(separator: "/"))
        try makeDirectories(stateDirectory + "/" + directory)
        if exists(stateDirectory + "/" + relative) { relative = FileName.appending("." + suffix, to: relative) }
        var attempt = 1
        while exists(stateDirectory + "/" + relative) {
            attempt += 1
            relative = FileName.appending("." + suffix + "-\(attempt)", to: folder.rawValue + "/" + file.relativePath)
        }
        return relative
    }

    /// Moves `file` out of the inbox to `relative` (below the state directory, from
    /// ``freeName(for:in:suffix:)``), which must still be free.
    public func move(_ file: InboxFile, to relative: String) throws {
        let destination = stateDirectory + "/" + relative
        guard !exists(destination) else { throw InboxError(path: destination, "cannot move \(file.path) here: the name is taken") }
        if rename(file.path, destination) != 0 {
            guard errno == EXDEV else {
                throw Self.failure(file.path, "cannot move to \(destination)", errno)
            }
            try copyThenRemove(file.path, to: destination)
        }
        FileSync.folder(containing: destination)
    }

    /// Writes `contents` to `relativePath` below the state directory, atomically (temp file, fsync, rename).
    public func write(_ contents: [UInt8], to relativePath: String, mode: mode_t = 0o640) throws {
        let path = stateDirectory + "/" + relativePath
        try makeDirectories(String(path.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")))
        // Dot-named until complete: a partner listing its receipts never sees a half-written one.
        if let (reason, code) = AtomicFile.write(contents, to: path, mode: mode) {
            throw InboxError(path: path, "cannot write: \(reason)", ending: FailureEnding(errno: code))
        }
    }

    public func makeDirectories(_ path: String) throws {
        var current = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            current += "/" + component
            if mkdir(current, 0o750) != 0 && errno != EEXIST {
                throw InboxError(
                    path: current, "cannot create folder: \(String(cString: strerror(errno)))", ending: FailureEnding(errno: errno))
            }
        }
    }

    /// A failed system call on `path`, ending as its errno says (no permission: the set-up).
    private static func failure(_ path: String, _ what: String, _ code: Int32) -> InboxError {
        InboxError(path: path, "\(what): \(String(cString: strerror(code)))", ending: FailureEnding(errno: code))
    }

    /// Whether something is at `relativePath` below the state directory.
    func exists(relativePath: String) -> Bool { exists(stateDirectory + "/" + relativePath) }

    private func exists(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }

    private func copyThenRemove(_ source: String, to destination: String) throws {
        let input = open(source, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard input >= 0 else { throw Self.failure(source, "cannot open to move", errno) }
        defer { close(input) }
        let output = open(destination, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o640)
        guard output >= 0 else { throw Self.failure(destination, "cannot create", errno) }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(input, $0.baseAddress, $0.count) }
            if count == 0 { break }
            let written = count > 0 ? buffer.withUnsafeBytes({ Glibc.write(output, $0.baseAddress, count) }) : -1
            guard written == count else {
                // Read errno before close and unlink can change it; a short write is a full disk.
                let code = written >= 0 ? ENOSPC : errno
                close(output)
                unlink(destination)
                throw Self.failure(destination, "copy failed", code)
            }
        }
        let synced = fsync(output) == 0
        close(output)
        guard synced else { throw InboxError(path: destination, "cannot flush to disk") }
        unlink(source)
    }

    /// Removes an upload whose bytes are already archived (a duplicate): recorded, not kept twice.
    public func discard(_ file: InboxFile) throws {
        guard unlink(file.path) == 0 || errno == ENOENT else { throw Self.failure(file.path, "cannot remove the duplicate", errno) }
        FileSync.folder(containing: file.path)
    }
}

extension FileMover {
    /// Puts a file from the state directory back into the inbox under `relativePath`
    /// (with a suffix if that name is taken by a new upload). Returns the path it now has.
    @discardableResult
    public func restore(_ path: String, toInbox inbox: String, as relativePath: String) throws -> String {
        var destination = inbox + "/" + relativePath
        try makeDirectories(String(destination.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")))
        var info = stat()
        if lstat(destination, &info) == 0 { destination = FileName.appending(".approved", to: destination) }
        guard rename(path, destination) == 0 else {
            throw InboxError(path: path, "cannot move back into the inbox: \(String(cString: strerror(errno)))")
        }
        unlink(FileName.appending(".reason.txt", to: path))
        return destination
    }
}
