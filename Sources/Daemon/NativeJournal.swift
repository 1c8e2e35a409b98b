import CSystemd
import Glibc
import AudienceSupport

/// journald's native protocol (sd_journal_sendv(3)): each log event as fields, so that
/// `journalctl PARTNER=acme` or `SEGMENT=123456` finds its lines. Used only when stderr is the
/// journal (systemd sets `JOURNAL_STREAM` to its device and inode), as sd_journal_print(3) advises.
public enum NativeJournal {
    /// Whether this process's stderr is connected to journald.
    public static func isStandardErrorTheJournal(_ environment: [String: String]) -> Bool {
        guard let stream = environment["JOURNAL_STREAM"] else { return false }
        let parts = stream.split(separator: ":")
        guard parts.count == 2, let device = UInt64(parts[0]), let inode = UInt64(parts[1]) else { return false }
        var info = stat()
        guard fstat(STDERR_FILENO, &info) == 0 else { return false }
        return UInt64(info.st_dev) == device && UInt64(info.st_ino) == inode
    }

    /// The sink for ``JournalLogHandler`` when stderr is the journal, else nil (stderr lines).
    public static func sink(environment: [String: String]) -> JournalSink? {
        guard isStandardErrorTheJournal(environment) else { return nil }
        return { fields in send(fields) }
    }

    /// Sends one entry; false when journald did not take it (the caller writes to stderr then).
    public static func send(_ fields: [JournalField]) -> Bool {
        var buffers = fields.map { Array("\($0.name)=\($0.value)".utf8) }
        return withIOVectors(&buffers[...]) { vectors in
            sd_journal_sendv(vectors.baseAddress, Int32(vectors.count)) >= 0
        }
    }

    /// iovecs over every buffer, kept valid for the call.
    private static func withIOVectors<R>(
        _ buffers: inout ArraySlice<[UInt8]>, _ vectors: [iovec] = [], _ body: (UnsafeBufferPointer<iovec>) -> R
    ) -> R {
        guard let first = buffers.first else { return vectors.withUnsafeBufferPointer(body) }
        var rest = buffers.dropFirst()
        var buffer = first
        return buffer.withUnsafeMutableBytes { raw in
            withIOVectors(&rest, vectors + [iovec(iov_base: raw.baseAddress, iov_len: raw.count)], body)
        }
    }
}
