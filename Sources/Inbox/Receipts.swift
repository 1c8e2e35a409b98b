import Foundation
import Logging
import AudienceConfig
import AudienceLedger
import AudienceModel
import AudienceSupport

/// The one owner of receipts: writes each file's receipt when the intake takes it, before the
/// file leaves the inbox; mends what a stopped run left unrecorded; and stamps `confirmed_at` once
/// TikTok has confirmed every change of a file.
package struct Receipts: Sendable {
    let configuration: Configuration
    let ledger: Ledger
    let mover: FileMover
    let logger: Logger

    package init(configuration: Configuration, ledger: Ledger, logger: Logger) {
        self.configuration = configuration
        self.ledger = ledger
        self.logger = logger
        mover = FileMover(stateDirectory: configuration.stateDirectory)
    }

    /// Writes `receipt` below `receipts/`, tells the ledger where (for an applied file), and logs
    /// its line. A duplicate's receipt goes beside the first arrival's, which keeps its rejected
    /// lines.
    func write(_ receipt: Receipt, for file: InboxFile, fingerprint: Digest32?) async throws {
        let path = Receipt.relativePath(for: file, fingerprint: fingerprint?.hex, outcome: receipt.outcome)
        try mover.write(receipt.encoded(), to: path)
        if let fingerprint, receipt.outcome == .applied { try await ledger.recordReceipt(fingerprint: fingerprint, at: path) }
        var metadata: Logger.Metadata = ["file": "\(file.relativePath)", "outcome": "\(receipt.outcome.rawValue)"]
        if let partner = file.partner { metadata["partner"] = "\(partner)" }
        if receipt.outcome != .applied && receipt.outcome != .duplicate {
            logger.warning("\(receipt.logLine)", metadata: metadata)
        } else {
            logger.info("\(receipt.logLine)", metadata: metadata)
        }
    }

    /// The receipt already written for an applied `file` (a run that stopped before moving it).
    func written(for file: InboxFile, fingerprint: Digest32) -> Receipt? {
        let path = configuration.stateDirectory + "/" + Receipt.relativePath(for: file, fingerprint: fingerprint.hex)
        guard let data = FileManager.default.contents(atPath: path),
            let receipt = try? JSONDecoder().decode(Receipt.self, from: data), receipt.outcome == .applied
        else { return nil }
        return receipt
    }

    /// Mends what a stopped run left unrecorded, before any file is taken: an applied file moved
    /// to `archive/` after its receipt was written, but stopped before the ledger recorded where
    /// (the receipt names the place: a re-upload of the same bytes is then a duplicate, not a
    /// file still to move); and, from ledgers of earlier versions, archived files without a
    /// receipt, which get it now from what the ledger recorded (counts per segment; the rejected
    /// lines were in the run that stopped).
    func finishInterrupted() async {
        do {
            for (fingerprint, receiptPath) in try await ledger.reader.appliedFilesNotRecordedAsArchived() {
                guard let data = FileManager.default.contents(atPath: configuration.stateDirectory + "/" + receiptPath),
                    let receipt = try? JSONDecoder().decode(Receipt.self, from: data), let archived = receipt.archivedAs,
                    mover.exists(relativePath: archived)
                else { continue }
                try await ledger.recordArchived(fingerprint: fingerprint, as: archived)
            }
        } catch {
            logger.error("cannot record where files stopped in the middle were archived; tried again next pass", metadata: [
                "error": "\("\(error)".replacingNewlines())",
            ])
        }
        let missing: [(fingerprint: Digest32, record: FileRecord)]
        do {
            missing = try await ledger.reader.archivedFilesWithoutReceipt()
        } catch {
            logger.error("cannot look for receipts left unwritten", metadata: ["error": "\("\(error)".replacingNewlines())"])
            return
        }
        for (fingerprint, record) in missing {
            do { try await writeMissing(fingerprint, record) } catch {
                logger.error("cannot write the receipt of an archived file; tried again next pass", metadata: [
                    "file": "\(record.name)", "error": "\("\(error)".replacingNewlines())",
                ])
            }
        }
    }

    private func writeMissing(_ fingerprint: Digest32, _ record: FileRecord) async throws {
        let parts = record.name.split(separator: "/", maxSplits: 1)
        let file = InboxFile(
            path: configuration.inbox + "/" + record.name, relativePath: record.name,
            partner: parts.count > 1 ? String(parts[0]) : nil, size: record.size, modified: 0, kind: .regular)
        let path = Receipt.relativePath(for: file, fingerprint: fingerprint.hex)
        if FileManager.default.fileExists(atPath: configuration.stateDirectory + "/" + path) {
            try await ledger.recordReceipt(fingerprint: fingerprint, at: path)
            return
        }
        var receipt = Receipt(
            applied: file, fingerprint: record.fingerprint, Receipt.Applied(record), now: Date(timeIntervalSince1970: Double(record.plannedAt)))
        receipt.archivedAs = record.archivedAs
        receipt.reason = "written after a restart (the run that applied it stopped before its receipt): +\(record.adds) -\(record.removes) in all"
        try await write(receipt, for: file, fingerprint: fingerprint)
    }

    /// Stamps `confirmed_at` into the receipts of files whose changes TikTok has now all confirmed.
    package func confirmSettled() async throws {
        let now = Date()
        for (_, receiptPath) in try await ledger.confirmSettledFiles(now: Int64(now.timeIntervalSince1970)) {
            guard let receiptPath else { continue }
            let full = configuration.stateDirectory + "/" + receiptPath
            guard let data = FileManager.default.contents(atPath: full),
                var receipt = try? JSONDecoder().decode(Receipt.self, from: data)
            else { continue }
            receipt.confirmedAt = Receipt.timestamp(now)
            try mover.write(receipt.encoded(), to: receiptPath)
        }
    }
}
