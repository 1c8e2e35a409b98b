import Foundation
import Testing
import TestFixtures
@testable import AudienceInbox
@testable import AudienceSupport
import AudienceInbox
import AudienceSupport

/// The inbox's parts one by one: what a scan lists, when a file counts as finished, and the
/// doorbell that wakes the services.
@Suite("inbox parts: scanner, readiness, doorbell")
struct InboxPartsTests {
    @Test("a scan lists files and folders in one walk, skips temporary names and markers, and never follows a link")
    func scannerListing() throws {
        let directory = try TemporaryDirectory()
        let inbox = directory.path + "/inbox"
        try directory.write("inbox/acme/a.csv", "email_hash,segment_id\n")
        try directory.write("inbox/acme/.b.csv.part", "half")
        try directory.write("inbox/acme/c.csv.tmp", "half")
        try directory.write("inbox/acme/a.csv.done", "")
        try directory.write("inbox/globex/deep/d.csv", "x\n")
        try directory.write("inbox/state/ledger.sqlite", "not an audience file")
        #expect(symlink("/etc/passwd", inbox + "/acme/link.csv") == 0)
        let listing = try InboxScanner(root: inbox + "/", excluded: [inbox + "/state"]).list()
        #expect(Set(listing.files.map(\.relativePath)) == ["acme/a.csv", "acme/link.csv", "globex/deep/d.csv"])
        #expect(Set(listing.folders) == [inbox, inbox + "/acme", inbox + "/globex", inbox + "/globex/deep"])
        let link = try #require(listing.files.first { $0.relativePath == "acme/link.csv" })
        guard case .notRegular = link.kind else {
            Issue.record("a symlink is listed as not regular, never followed")
            return
        }
        #expect(listing.files.first { $0.relativePath == "acme/a.csv" }?.partner == "acme")
        #expect(throws: InboxError.self) { try InboxScanner(root: directory.path + "/missing").list() }
    }

    static func file(_ path: String, modified: Double) -> InboxFile {
        var info = stat()
        _ = lstat(path, &info)
        return InboxFile(
            path: path, relativePath: (path as NSString).lastPathComponent, partner: nil, size: Int64(info.st_size),
            modified: modified, kind: .regular)
    }

    @Test("a file is ready once settled and finished: a final newline, a gzip name, a .done marker or a rename")
    func readiness() throws {
        let directory = try TemporaryDirectory()
        let now = Date().timeIntervalSince1970
        let whole = try directory.write("whole.csv", "email_hash,segment_id\nx,1\n")
        let cut = try directory.write("cut.csv", "email_hash,segment_id\nx,1")
        let marked = try directory.write("marked.csv", "email_hash,segment_id\nx,1")
        try directory.write("marked.csv.done", "")
        let gzip = try directory.write("packed.csv.gz", "whatever")
        #expect(FileReadiness.check(Self.file(whole, modified: now - 60), settleSeconds: 5, now: now) == .ready)
        #expect(FileReadiness.check(Self.file(whole, modified: now - 2), settleSeconds: 5, now: now) == .settling(3))
        guard case .incomplete = FileReadiness.check(Self.file(cut, modified: now - 60), settleSeconds: 5, now: now) else {
            Issue.record("a CSV without its final newline looks cut short")
            return
        }
        #expect(FileReadiness.check(Self.file(cut, modified: now - 1), settleSeconds: 5, now: now, renamedIn: true) == .ready)
        #expect(FileReadiness.check(Self.file(marked, modified: now - 1), settleSeconds: 5, now: now) == .ready)
        #expect(FileReadiness.check(Self.file(gzip, modified: now - 60), settleSeconds: 5, now: now) == .ready)
        #expect(
            FileReadiness.check(Self.file(whole, modified: now + 3_600), settleSeconds: 5, now: now) == .ready,
            "a clock ahead does not make it wait an hour")
    }

    @Test("a file taken (or removed) after the listing is gone, not unreadable or cut short: status raises no alarm for it")
    func takenAfterTheListing() throws {
        let directory = try TemporaryDirectory()
        let now = Date().timeIntervalSince1970
        let whole = try directory.write("whole.csv", "email_hash,segment_id\nx,1\n")
        let cut = try directory.write("cut.csv", "email_hash,segment_id\nx,1")
        let listed = [Self.file(whole, modified: now - 60), Self.file(cut, modified: now - 60)]
        // The running daemon moves both to archive/ between `status`'s listing and its look at them.
        for file in listed { try FileManager.default.removeItem(atPath: file.path) }
        for file in listed {
            #expect(FileReadiness.check(file, settleSeconds: 5, now: now) == .gone)
            #expect(FileReadiness.check(file, settleSeconds: 5, now: now, renamedIn: true) == .gone)
        }
    }

    @Test("a ring is never lost: rung before the wait, it returns at once; several rings count as one")
    func doorbell() async {
        let bell = Doorbell()
        bell.ring()
        bell.ring()
        let clock = ContinuousClock()
        let first = clock.now
        // A lost ring would wait the whole minute; a ring is answered at once, though a machine
        // busy with other tests may take seconds to run this task at all.
        await bell.wait(timeout: .seconds(60))
        #expect(clock.now - first < .seconds(30), "the ring rung before waiting wakes the wait")
        let second = clock.now
        await bell.wait(timeout: .milliseconds(200))
        #expect(clock.now - second >= .milliseconds(150), "two rings before one wait are one")
        Task {
            try? await Task.sleep(for: .milliseconds(50))
            bell.ring()
        }
        let third = clock.now
        await bell.wait(timeout: .seconds(60))
        #expect(clock.now - third < .seconds(30), "a ring while waiting wakes the wait")
    }
}
