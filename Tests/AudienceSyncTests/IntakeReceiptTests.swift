import Foundation
import Testing
@testable import AudienceConfig
@testable import AudienceInbox
@testable import AudienceLedger
import AudienceConfig
import AudienceInbox
import AudienceLedger

@Suite("intake: every archived file gets its receipt")
struct IntakeReceiptTests {
    @Test("a run stopped between the archive move and the receipt: the next pass writes the receipt from the ledger")
    func receiptAfterInterruption() async throws {
        // Given a file applied and archived whose receipt was never written (the process died there)
        let directory = try TemporaryDirectory()
        try directory.write("inbox/acme/day.csv", "email_hash,segment_id,action\n\(String(repeating: "ab", count: 32)),123456,add\n")
        let configuration = Configuration(
            inbox: directory.path + "/inbox", stateDirectory: directory.path + "/state",
            tiktok: .init(advertiserID: "7000000000000000001"))
        try FileManager.default.createDirectory(atPath: configuration.stateDirectory, withIntermediateDirectories: true)
        let ledger = try Ledger(path: configuration.ledgerPath)
        var settled = configuration
        settled.settleSeconds = 0
        let engine = Intake(configuration: settled, ledger: ledger, logger: .init(label: "test"))
        let first = try await engine.processReadyFiles()
        let receipt = try #require(first.receipts.first)
        let receiptPath = configuration.stateDirectory + "/" + Receipt.relativePath(
            for: InboxFile(path: "", relativePath: "acme/day.csv", partner: "acme", size: 0, modified: 0, kind: .regular),
            fingerprint: receipt.fingerprint)
        try FileManager.default.removeItem(atPath: receiptPath)
        try await ledger.withConnection { try $0.connection.execute("UPDATE file SET receipt = NULL") }
        // When the next pass runs
        _ = try await engine.processReadyFiles()
        // Then the partner has a receipt, and the ledger knows it
        let data = try #require(FileManager.default.contents(atPath: receiptPath))
        let written = try JSONDecoder().decode(Receipt.self, from: data)
        #expect(written.outcome == .applied && written.rowsRead == 1 && written.partner == "acme")
        #expect(written.archivedAs == receipt.archivedAs)
        #expect(try await ledger.reader.archivedFilesWithoutReceipt().isEmpty)
    }

    @Test("the same name and bytes uploaded again: its duplicate receipt is written beside the first, which keeps its rejected lines")
    func duplicateKeepsTheFirstReceipt() async throws {
        let directory = try TemporaryDirectory()
        let text = "email_hash,segment_id,action\n\(String(repeating: "ab", count: 32)),123456,add\nnot-a-hash,123456,add\n"
        try directory.write("inbox/acme/day.csv", text)
        var configuration = Configuration(
            inbox: directory.path + "/inbox", stateDirectory: directory.path + "/state",
            tiktok: .init(advertiserID: "7000000000000000001"))
        configuration.settleSeconds = 0
        try FileManager.default.createDirectory(atPath: configuration.stateDirectory, withIntermediateDirectories: true)
        let ledger = try Ledger(path: configuration.ledgerPath)
        let engine = Intake(configuration: configuration, ledger: ledger, logger: .init(label: "test"))
        let first = try #require(try await engine.processReadyFiles().receipts.first)
        for _ in 0..<2 {
            try directory.write("inbox/acme/day.csv", text)
            #expect(try await engine.processReadyFiles().receipts.first?.outcome == .duplicate)
        }
        let folder = configuration.stateDirectory + "/receipts/acme"
        let names = try FileManager.default.contentsOfDirectory(atPath: folder).filter { !$0.hasPrefix(".") }.sorted()
        #expect(names.count == 3, "\(names)")
        let original = try #require(names.first { !$0.contains("duplicate") })
        let kept = try JSONDecoder().decode(Receipt.self, from: try #require(FileManager.default.contents(atPath: folder + "/" + original)))
        #expect(kept.outcome == .applied && kept.rowsRejected == 1 && kept.rejects.count == 1)
        #expect(kept.fingerprint == first.fingerprint)
        let archive = try FileManager.default.subpathsOfDirectory(atPath: configuration.stateDirectory + "/archive")
            .filter { !$0.hasSuffix("/") && $0.hasSuffix(".csv") || $0.contains(".csv.") }
        #expect(archive.count == 1, "a duplicate is recorded, not archived a second time: \(archive)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path + "/inbox/acme").isEmpty)
    }
}
