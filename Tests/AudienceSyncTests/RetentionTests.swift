import Foundation
import Testing
import TestFixtures
@testable import AudienceConfig
@testable import AudienceInbox
@testable import AudienceLedger
import AudienceReading
import AudienceModel

/// Retention with a fake clock: the sweep and the ledger are told what time it is.
@Suite("Retention: what the state directory keeps, and for how long")
struct RetentionTests {
    let day = 86_400.0

    /// A file in each folder (and one in a partner's subfolder), written now.
    func stateWithOneFileEach(_ directory: TemporaryDirectory) throws -> String {
        let state = directory.path + "/state"
        for relative in ["archive/acme/a.csv.0123", "rejected/bad.csv", "rejected/bad.csv.reason.txt", "held/acme/s.csv", "receipts/acme/a.csv.json"] {
            let path = state + "/" + relative
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try Data("x\n".utf8).write(to: URL(fileURLWithPath: path))
        }
        return state
    }

    @Test("each folder keeps files its own number of days; 0 keeps them for ever; folders stay")
    func sweepByFolder() throws {
        let directory = try TemporaryDirectory()
        let state = try stateWithOneFileEach(directory)
        let now = Date().timeIntervalSince1970
        let sweeper = StateRetention(stateDirectory: state, retention: Configuration.Retention())

        #expect(sweeper.sweep(now: now + 34 * day).isEmpty, "nothing is a month old yet")
        let month = sweeper.sweep(now: now + 36 * day)
        #expect(month.removed == [.archive: 1, .rejected: 2], "archive/ and rejected/ keep 35 days by default")
        #expect(month.bytes == 6)
        #expect(FileManager.default.fileExists(atPath: state + "/archive/acme"), "the partner's folder stays")
        #expect(FileManager.default.fileExists(atPath: state + "/held/acme/s.csv"))

        var forever = Configuration.Retention()
        forever.days = [.archive: 0, .rejected: 0, .held: 0, .receipts: 0]
        let other = try TemporaryDirectory()
        let kept = try stateWithOneFileEach(other)
        #expect(StateRetention(stateDirectory: kept, retention: forever).sweep(now: now + 10_000 * day).isEmpty)

        let quarter = sweeper.sweep(now: now + 91 * day)
        #expect(quarter.removed == [.held: 1, .receipts: 1], "held/ and receipts/ keep 90 days")
    }

    @Test("a file's age counts from its move into the folder, not from the upload's old modification time")
    func ageFromTheMove() throws {
        let directory = try TemporaryDirectory()
        let state = try stateWithOneFileEach(directory)
        let archived = state + "/archive/acme/a.csv.0123"
        // Uploaded a year ago, archived now: the change time is now.
        try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(-365 * day)], ofItemAtPath: archived)
        let report = StateRetention(stateDirectory: state, retention: Configuration.Retention()).sweep(now: Date().timeIntervalSince1970 + day)
        #expect(report.isEmpty, "\(report)")
        #expect(FileManager.default.fileExists(atPath: archived))
    }

    @Test("the ledger forgets old confirmed and rejected files, never the last applied, a held one or an unconfirmed one")
    func ledgerForgets() async throws {
        let directory = try TemporaryDirectory()
        let ledger = try Ledger(path: directory.path + "/ledger.sqlite")
        try await apply("email_hash,segment_id\n\(sha256Hex("a@example.com")),1\n", to: ledger, in: directory, name: "old.csv")
        let oldPrint = try AudienceFileReader(path: directory.path + "/old.csv").fingerprint()
        try await ledger.recordArchived(fingerprint: oldPrint, as: "archive/old.csv")
        try await acknowledgeAll(ledger)
        _ = try await ledger.confirmSettledFiles(now: Int64(Date().timeIntervalSince1970))
        let rejected = Digest32(Array(repeating: UInt8(7), count: 32))
        try await ledger.recordRejectedFile(fingerprint: rejected, name: "bad.csv", size: 3, reason: "not an audience file")
        let held = Digest32(Array(repeating: UInt8(8), count: 32))
        try await ledger.recordRejectedFile(fingerprint: held, name: "s.csv", size: 3, reason: "held", outcome: .held)
        // The last applied file, archived, not confirmed yet.
        try await apply("email_hash,segment_id\n\(sha256Hex("b@example.com")),1\n", to: ledger, in: directory, name: "new.csv")
        let newPrint = try AudienceFileReader(path: directory.path + "/new.csv").fingerprint()
        try await ledger.recordArchived(fingerprint: newPrint, as: "archive/new.csv")

        let now = Int64(Date().timeIntervalSince1970)
        #expect(try await ledger.forgetFiles(takenBefore: now - 400 * 86_400) == 0, "nothing is old yet")
        #expect(try await ledger.forgetFiles(takenBefore: now + 401 * 86_400) == 2, "the confirmed and the rejected file go")
        #expect(try await ledger.reader.fileRecord(fingerprint: oldPrint) == nil)
        #expect(try await ledger.reader.fileRecord(fingerprint: rejected) == nil)
        #expect(try await ledger.reader.fileRecord(fingerprint: held)?.outcome == .held)
        #expect(try await ledger.reader.lastAppliedGeneration() == 2, "the last applied file stays: the seal is checked against it")

        // Once everything is confirmed, the last applied file still stays: the seal is checked against it.
        try await acknowledgeAll(ledger)
        _ = try await ledger.confirmSettledFiles(now: now)
        #expect(try await ledger.reader.fileRecord(fingerprint: newPrint)?.confirmedAt != nil)
        #expect(try await ledger.forgetFiles(takenBefore: now + 401 * 86_400) == 0)
        #expect(try await ledger.reader.fileRecord(fingerprint: newPrint) != nil)
        #expect(try await ledger.reader.lastAppliedGeneration() == 2)
    }

    @Test("retention settings: days per folder, 0 for ever, and a misspelt key is refused")
    func settings() async throws {
        let directory = try TemporaryDirectory()
        let base = "inbox: /tmp/i\nstate_directory: /tmp/s\ntiktok:\n  advertiser_id: \"1\"\n"
        let path = try directory.write("c.yaml", base + "retention:\n  archive_days: 7\n  receipts_days: 0\n  file_history_days: 30\n")
        let configuration = try await ConfigurationLoader.load(path: path, environment: [:])
        #expect(configuration.retention.days[.archive] == 7)
        #expect(configuration.retention.days[.receipts] == 0)
        #expect(configuration.retention.days[.rejected] == 35)
        #expect(configuration.retention.fileHistoryDays == 30)
        let misspelt = try directory.write("d.yaml", base + "retention:\n  archive_day: 7\n")
        await #expect {
            _ = try await ConfigurationLoader.load(path: misspelt, environment: [:])
        } throws: { "\($0)".contains("did you mean retention.archive_days") }
    }
}
