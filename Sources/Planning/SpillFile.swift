#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization
import AudienceModel
import AudienceReading

/// Sorted runs of member changes, written to a temporary file that has no name (unlinked at once,
/// so nothing is left behind if the process dies) and read back a block at a time for merging.
///
/// Records are the in-memory bytes of `MemberChange`, a trivial type, read back by the same process.
/// Sendable: runs are appended while the file is read and sorted, then only read back, by
/// whichever thread writes the ledger.
final class SpillFile: Sendable {
    struct Run {
        var offset: Int
        var count: Int
    }

    private let descriptor: Int32
    private let written = Mutex<(runs: [Run], end: Int)>(([], 0))
    var runs: [Run] { written.withLock { $0.runs } }
    static let recordSize = MemoryLayout<MemberChange>.stride

    /// Creates the file in `directory` (the state directory: on disk, where the ledger is).
    init(directory: String) throws {
        var template = Array((directory + "/.plan-spill-XXXXXX").utf8CString)
        let descriptor = template.withUnsafeMutableBufferPointer { buffer in buffer.baseAddress.map { mkstemp($0) } ?? -1 }
        guard descriptor >= 0 else {
            let code = errno
            throw PlanningError(
                "cannot create a temporary file in \(directory) to sort a large file: \(String(cString: strerror(code))); check that the directory exists and is writable",
                ending: code == ENOENT ? .configuration : FailureEnding(errno: code))
        }
        _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC)
        _ = template.withUnsafeBufferPointer { buffer in buffer.baseAddress.map { unlink($0) } }
        self.descriptor = descriptor
    }

    deinit { close(descriptor) }

    /// Appends one sorted run.
    func append(_ changes: UnsafeBufferPointer<MemberChange>) throws {
        let bytes = UnsafeRawBufferPointer(changes)
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        let end = written.withLock { $0.end }
        var written = 0
        while written < bytes.count {
            let result = pwrite(descriptor, base + written, bytes.count - written, off_t(end + written))
            if result < 0 && errno == EINTR { continue }
            guard result > 0 else {
                let reason = result < 0 ? String(cString: strerror(errno)) : "nothing was written"
                throw PlanningError("cannot write the temporary sort file: \(reason); free some space in the state directory")
            }
            written += result
        }
        self.written.withLock { state in
            state.runs.append(Run(offset: end, count: changes.count))
            state.end += bytes.count
        }
    }

    /// Reads up to `buffer.count` records of run `run`, starting at its record `first`.
    func read(run: Run, from first: Int, into buffer: UnsafeMutableBufferPointer<MemberChange>) throws -> Int {
        let count = min(buffer.count, run.count - first)
        let raw = UnsafeMutableRawBufferPointer(buffer)
        guard count > 0, let base = raw.baseAddress else { return 0 }
        let length = count * Self.recordSize
        var done = 0
        while done < length {
            let result = pread(descriptor, base + done, length - done, off_t(run.offset + first * Self.recordSize + done))
            if result < 0 && errno == EINTR { continue }
            guard result > 0 else {
                throw PlanningError("cannot read back the temporary sort file: \(String(cString: strerror(errno)))")
            }
            done += result
        }
        return count
    }
}

/// Planning could not use its temporary sort file.
public struct PlanningError: OperatorError {
    public let description: String
    /// A full disk passes once space is freed (75); a state directory the service may not write
    /// is the set-up (78).
    public let ending: FailureEnding
    init(_ description: String, ending: FailureEnding = .retryLater) {
        self.description = description
        self.ending = ending
    }
}
