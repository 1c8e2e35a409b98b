import Foundation
import Glibc
import AudienceSupport

/// What the intake last saw, for `status`: written beside the ledger after every look at the
/// inbox by the process that holds the state directory's lock.
public struct DaemonStatusFile: Codable, Sendable, Equatable {
    public static let name = "intake-status.json"

    public var pid: Int32
    /// ISO 8601.
    public var lastScanAt: String
    /// What the intake said at that look ("1 file(s) waiting in the inbox"; empty when nothing waits).
    public var status: String
    /// Why files could not be taken at the last look (a disk, a permission, the ledger), if so.
    public var inboxError: String?

    enum CodingKeys: String, CodingKey {
        case pid, status
        case lastScanAt = "last_scan_at"
        case inboxError = "inbox_error"
    }

    public init(pid: Int32 = getpid(), lastScanAt: Double, status: String, inboxError: String?) {
        self.pid = pid
        self.lastScanAt = ISO8601Time.string(Int(lastScanAt))
        self.status = status
        self.inboxError = inboxError
    }

    /// Written whole or not at all; a failure only costs `status` its freshness.
    func write(stateDirectory: String) {
        guard let bytes = try? JSONEncoder().encode(self) else { return }
        _ = AtomicFile.write(Array(bytes), to: stateDirectory + "/" + Self.name, mode: 0o644)
    }

    public static func remove(stateDirectory: String) {
        unlink(stateDirectory + "/" + name)
    }

    public static func read(stateDirectory: String) -> DaemonStatusFile? {
        guard let data = FileManager.default.contents(atPath: stateDirectory + "/" + name) else { return nil }
        return try? JSONDecoder().decode(DaemonStatusFile.self, from: data)
    }
}
