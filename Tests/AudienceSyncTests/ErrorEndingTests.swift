import AsyncHTTPClient
import CSQLite
import Foundation
import Testing
import TikTokEmulator
import TestFixtures
@testable import AudienceConfig
@testable import AudienceLedger
@testable import AudienceModel
@testable import AudiencePlanning
@testable import AudienceReading
@testable import AudienceSupport
@testable import AudienceTikTok
import AudienceConfig
import AudienceLedger
import AudienceModel
import AudiencePlanning
import AudienceReading
import AudienceSupport
import AudienceTikTok

/// How each failure ends a command: what systemd and cron see as the exit code.
@Suite("errors: how each failure ends a command")
struct ErrorEndingTests {
    @Test("a ledger on a full disk is retried later (75), never taken for bad configuration (78)")
    func fullLedgerIsRetriedLater() async throws {
        let directory = try TemporaryDirectory()
        let ledger = try Ledger(path: directory.path + "/ledger.sqlite")
        // The ledger may not grow: SQLite's own "database or disk is full", as on a full disk.
        try await ledger.withConnection { ledger in
            let count = try ledger.connection.prepare("PRAGMA page_count")
            defer { count.reset() }
            _ = try count.step()
            try ledger.connection.execute("PRAGMA max_page_count = \(count.int(0))")
        }
        let rows = (0..<5_000).map { "\(sha256Hex("full\($0)")),123456\n" }.joined()
        let path = try directory.write("full.csv", "email_hash,segment_id\n" + rows)
        let reader = try AudienceFileReader(path: path)
        let error = await #expect(throws: LedgerError.self) {
            try await ledger.applyFile(try Planner().sort(reader), fingerprint: try reader.fingerprint(), name: "full.csv", size: reader.size)
        }
        #expect(error?.ending == .retryLater, "\(String(describing: error))")
        #expect(error?.description.contains("free disk space") == true)
        #expect(try await ledger.reader.pendingCounts().total == 0, "nothing of the file was applied")
    }

    @Test("a ledger from a newer version, or damaged, is the set-up (78)")
    func supersededLedgerIsConfiguration() throws {
        let directory = try TemporaryDirectory()
        _ = try Ledger(path: directory.path + "/ledger.sqlite")
        let connection = try SQLiteConnection(path: directory.path + "/ledger.sqlite")
        try connection.execute("PRAGMA busy_timeout = 10000; PRAGMA user_version = 99")
        let error = #expect(throws: LedgerError.self) { _ = try Ledger(path: directory.path + "/ledger.sqlite") }
        #expect(error?.ending == .configuration)
        let garbage = try directory.write("garbage.sqlite", String(repeating: "not a database ", count: 500))
        let damaged = #expect(throws: LedgerError.self) { _ = try Ledger(path: garbage) }
        #expect(damaged?.ending == .configuration)
    }

    @Test("SQLite's codes: a full disk, an I/O error or a busy ledger pass; a damaged or unwritable one is the set-up; the rest is a defect", arguments: [
        (SQLITE_FULL, Int32(0), FailureEnding.retryLater), (SQLITE_IOERR | (3 << 8), 0, .retryLater), (SQLITE_IOERR | (4 << 8), 0, .retryLater),
        (SQLITE_BUSY, 0, .retryLater), (SQLITE_CANTOPEN, ENOSPC, .retryLater), (SQLITE_CANTOPEN, EMFILE, .retryLater),
        (SQLITE_CANTOPEN, EACCES, .configuration), (SQLITE_CANTOPEN, 0, .configuration), (SQLITE_READONLY, 0, .configuration),
        (SQLITE_CORRUPT, 0, .configuration), (SQLITE_NOTADB, 0, .configuration), (SQLITE_CONSTRAINT | (8 << 8), 0, .software),
    ])
    func sqliteEndings(code: Int32, systemErrno: Int32, ending: FailureEnding) {
        #expect(LedgerError.sqlite("/state/ledger.sqlite", sqliteCode: code, systemErrno: systemErrno, "x").ending == ending)
    }

    @Test("system call failures: permissions are the set-up, a full disk passes", arguments: [
        (EACCES, FailureEnding.configuration), (EPERM, .configuration), (EROFS, .configuration), (ENOTDIR, .configuration),
        (ENOSPC, .retryLater), (EIO, .retryLater), (EDQUOT, .retryLater), (EWOULDBLOCK, .retryLater),
    ])
    func errnoEndings(code: Int32, ending: FailureEnding) {
        #expect(FailureEnding(errno: code) == ending)
    }

    @Test("every kind of failure has its ending; an unknown error is a defect")
    func endings() {
        #expect(FailureEnding(of: ConfigurationError(file: "c.yaml", key: "inbox", "missing")) == .configuration)
        #expect(FailureEnding(of: SnapshotHeld(segment: "1", members: 10, removals: 9, limitPercent: 50)) == .inputRejected)
        #expect(FailureEnding(of: PlanningStopped()) == .retryLater)
        #expect(FailureEnding(of: PlanningError("no space")) == .retryLater)
        #expect(FailureEnding(of: PlanningError("no permission", ending: .configuration)) == .configuration)
        #expect(FailureEnding(of: CocoaError(.fileWriteOutOfSpace)) == .retryLater)
        struct Unexpected: Error {}
        #expect(FailureEnding(of: Unexpected()) == .software)
        let long = ConfigurationError(file: "c.yaml", key: nil, String(repeating: "x", count: 2_000) + "\nsecond line")
        #expect(long.shortDescription.count <= 400 && !long.shortDescription.contains("\n"))
    }

    @Test("no answer from TikTok says why: a refused connection, or a timeout")
    func transportErrorKinds() async throws {
        let closed = try freeLoopbackPort()
        let refusing = TikTokClient(
            baseURL: "http://127.0.0.1:\(closed)/open_api/v1.3", advertiserID: "7000000000000000001", token: AccessToken("t"),
            http: TikTokClient.sharedHTTPClient, timeout: .seconds(5))
        let refused = await #expect(throws: TikTokTransportError.self) { _ = try await refusing.userInfo() }
        #expect(refused?.kind == .refused, "\(String(describing: refused))")
        try await TikTokEmulator.withRunning { emulator in
            await emulator.state.enqueue([.delay(.seconds(3))])
            let slow = TikTokClient(
                baseURL: emulator.baseURL, advertiserID: "7000000000000000001", token: AccessToken("emulator-token"),
                http: TikTokClient.sharedHTTPClient, timeout: .seconds(1))
            let user = TikTokClient.User(digest: Digest32(Array(repeating: UInt8(7), count: 32)), audienceID: "123456")
            let timedOut = await #expect(throws: TikTokTransportError.self) {
                _ = try await slow.mapping(slow.mappingBody(action: .add, type: .emailSHA256, users: [user]))
            }
            #expect(timedOut?.kind == .timedOut, "\(String(describing: timedOut))")
        }
    }
}
