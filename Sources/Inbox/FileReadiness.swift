import Glibc
import AudienceReading

/// Whether an inbox file is a finished upload. OpenSSH's `sftp put` writes under the final name and
/// a killed upload still closes the file, so "closed" never means "complete". In order of strength:
/// a completion marker (`NAME.done`); gzip's trailer (checked while reading); a plain CSV's final
/// newline; and no change for `settle_seconds`.
public enum FileReadiness: Equatable, Sendable {
    case ready
    /// Still changing, or changed too recently: look again after this many seconds.
    case settling(Double)
    /// Settled but visibly unfinished (a CSV without its final newline).
    case incomplete(String)
    /// The daemon may not read it (an upload kept its owner-only mode).
    case unreadable(String)
    /// It left the inbox after it was listed: taken by the running daemon (as `status` looks), or
    /// removed by the partner. Nothing to wait for or to say.
    case gone

    public static func check(_ file: InboxFile, settleSeconds: Double, now: Double, renamedIn: Bool = false) -> FileReadiness {
        // Symlinks, FIFOs and devices are never waited for (nor opened): they are moved aside at once.
        if case .notRegular = file.kind { return .ready }
        if access(file.path, R_OK) != 0 {
            if errno == ENOENT || errno == ENOTDIR { return .gone }
            return .unreadable(
                "cannot read it (\(String(cString: strerror(errno)))); the partner should upload it readable by the group, e.g. chmod 640 \(file.name) before uploading")
        }
        if renamedIn { return .ready }
        if hasCompletionMarker(file) { return .ready }
        // A modification time in the future (a partner's clock ahead) would have it wait until
        // that time: it counts as settled instead, and the newline and gzip checks still apply.
        let age = file.modified > now + 1 ? settleSeconds : now - file.modified
        if age < settleSeconds { return .settling(settleSeconds - age) }
        if file.name.lowercased().hasSuffix(".gz") { return .ready }
        if file.size == 0 { return .ready }
        if endsWithNewline(file.path) { return .ready }
        // Gone meanwhile, rather than cut short.
        if access(file.path, F_OK) != 0 { return .gone }
        return .incomplete("the last line has no newline, so the upload looks cut short; upload as NAME.part and rename when done, or add NAME.done beside it")
    }

    static func hasCompletionMarker(_ file: InboxFile) -> Bool {
        var info = stat()
        return lstat(file.path + UploadNames.completionMarkerSuffix, &info) == 0
    }

    /// In the file's own encoding: a UTF-16 file (Excel's "Unicode Text") ends with `\n` as two bytes.
    static func endsWithNewline(_ path: String) -> Bool {
        TextEncoding.endsWithNewline(path: path)
    }
}
