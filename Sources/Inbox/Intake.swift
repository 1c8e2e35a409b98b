import Foundation
import Logging
import AudienceConfig
import AudienceLedger
import AudienceModel
import AudiencePlanning
import AudienceReading
import AudienceSupport

/// What one look at the inbox did.
public struct IntakePass: Sendable {
    public var receipts: [Receipt] = []
    public var waiting: [(file: String, reason: WaitReason)] = []
    /// Files that could not be taken for a reason of this machine (disk, permissions, the ledger):
    /// they stay in the inbox and are tried again; the other partners' files went on.
    public var failures: [(file: String, error: String, ending: FailureEnding)] = []
    /// When (seconds since 1970) a file still being written will have settled.
    public var settledAt: Double?
    /// When a visibly unfinished file will count as an abandoned upload.
    public var abandonedAt: Double?
    /// When the longest-waiting file still in the inbox arrived (seconds since 1970).
    public var oldestWaitingArrival: Double?
    /// The inbox's folders, as this look found them (for the watcher).
    public var folders: [String] = []
    /// When the inbox should be looked at again.
    public var nextCheck: Double? {
        switch (settledAt, abandonedAt) {
        case (let a?, let b?): min(a, b)
        case (let a?, nil): a
        case (nil, let b): b
        }
    }
}

/// Takes files from the inbox into the ledger, one at a time in arrival order: fingerprint,
/// plan, archive (or reject), receipt. A file moves out of the inbox only after its plan is
/// committed. What to do with each file is decided by ``IntakeDecision`` from the facts gathered
/// here; this carries the decisions out.
///
/// Runs on a thread of its own: reading and sorting a large file is tens of seconds of blocking
/// work that must not hold one of Swift's cooperative threads. One lives as long as the daemon;
/// a reload hands it the new configuration (``use(_:)``).
public actor Intake {
    public private(set) var configuration: Configuration
    public nonisolated let ledger: Ledger
    /// The inbox and the state directory never change while a process runs (a reload keeps them).
    let mover: FileMover
    let receipts: Receipts
    private(set) var rules: IntakeDecision.Rules
    let logger: Logger
    let planner: Planner
    let progress: (@Sendable (ReadProgress) -> Void)?
    private nonisolated let executor = ThreadExecutor(label: "tiktok-audience-sync.intake")
    /// The ledger's type for untyped MAIDs from earlier versions, read once by the first file
    /// that needs it (it never changes while the process runs).
    private var legacyMAIDType: MAIDType??

    public nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    public init(
        configuration: Configuration, ledger: Ledger, logger: Logger, planner: Planner? = nil,
        progress: (@Sendable (ReadProgress) -> Void)? = nil
    ) {
        self.configuration = configuration
        self.ledger = ledger
        self.logger = logger
        self.planner = planner ?? Planner(spillDirectory: configuration.stateDirectory)
        self.progress = progress
        mover = FileMover(stateDirectory: configuration.stateDirectory)
        receipts = Receipts(configuration: configuration, ledger: ledger, logger: logger)
        rules = IntakeDecision.Rules(configuration)
    }

    /// Takes the configuration in force now (a reload): partners, rules, settle time.
    public func use(_ configuration: Configuration) {
        self.configuration = configuration
        rules = IntakeDecision.Rules(configuration)
    }

    var scanner: InboxScanner {
        InboxScanner(root: configuration.inbox, excluded: [configuration.stateDirectory], settleSeconds: configuration.settleSeconds)
    }

    /// One look at the inbox: takes every ready file in arrival order. Files still settling are
    /// left for `nextCheck` (a time); a visibly unfinished file older than
    /// `incomplete_upload_seconds` is moved to `rejected/` as an incomplete upload. Once the task
    /// is cancelled (a shutdown), no new file is taken and the planning of one gives up at once.
    public func processReadyFiles(
        renamedIn: @Sendable (String) -> Bool = { _ in false },
        onFile: @Sendable (InboxFile) -> Void = { _ in }
    ) async throws -> IntakePass {
        await receipts.finishInterrupted()
        var pass = IntakePass()
        var line = IntakeDecision.Line()
        let listing = try scanner.list()
        pass.folders = listing.folders
        let ordered = try await inArrivalOrder(listing.files)
        for file in ordered {
            if Task.isCancelled {
                // Listed as waiting, so that a stopped `once` says what it left.
                pass.waiting.append((file.relativePath, .stopping))
                continue
            }
            if let behind = line.waitsBehind(file) {
                pass.waiting.append((file.relativePath, behind))
                continue
            }
            let waitingBefore = pass.waiting.count
            do {
                try await consider(file, renamedIn: renamedIn(file.path), onFile: onFile, into: &pass)
            } catch is PlanningStopped {
                pass.waiting.append((file.relativePath, .stopping))
                break
            } catch {
                // One file's trouble (a name the disk refuses, a full disk) never stops the others.
                let described = "\(error)".replacingNewlines()
                logger.error("cannot take the file; it stays in the inbox and is tried again", metadata: [
                    "file": "\(file.relativePath)", "error": "\(described)",
                ])
                pass.failures.append((file.relativePath, described, FailureEnding(of: error)))
                pass.waiting.append((file.relativePath, .couldNotBeTaken(described)))
            }
            if pass.waiting.count > waitingBefore { line.stays(file) }
        }
        let waiting = Set(pass.waiting.map(\.file))
        pass.oldestWaitingArrival = ordered.first { waiting.contains($0.relativePath) }?.arrived
        return pass
    }

    /// The inbox in arrival order (``IntakeDecision/Line``): each file's first-seen change time
    /// as the ledger remembers it (recorded now for a file seen for the first time).
    private func inArrivalOrder(_ scanned: [InboxFile]) async throws -> [InboxFile] {
        let arrivals = try await ledger.arrivals(
            scanned.map { (ArrivalKey(device: $0.device, inode: $0.inode), $0.arrived, $0.born) })
        return IntakeDecision.Line.ordered(scanned, arrivals: arrivals)
    }

    /// Takes `file` if it is ready, else notes in `pass` why it waits.
    private func consider(
        _ file: InboxFile, renamedIn: Bool, onFile: (InboxFile) -> Void, into pass: inout IntakePass
    ) async throws {
        if let original = file.originalName {
            logger.warning(
                "the file's name was not valid UTF-8 (\(original.escapingControlCharacters)); it was renamed so that it can be read, named in receipts and logged",
                metadata: ["file": "\(file.relativePath)"])
        }
        let now = Date().timeIntervalSince1970
        let readiness = FileReadiness.check(file, settleSeconds: configuration.settleSeconds, now: now, renamedIn: renamedIn)
        let freeBytes = FreeSpace.available(at: configuration.stateDirectory)
        switch IntakeDecision.arrival(file, readiness: readiness, now: now, rules: rules, freeBytes: freeBytes) {
        case .wait(let reason, let lookAgainAt):
            pass.waiting.append((file.relativePath, reason))
            if let lookAgainAt {
                if reason.isSettling {
                    pass.settledAt = min(pass.settledAt ?? .infinity, lookAgainAt)
                } else {
                    pass.abandonedAt = min(pass.abandonedAt ?? .infinity, lookAgainAt)
                }
            }
        case .reject(let reason, let outcome):
            pass.receipts.append(try await setAside(file, fingerprint: nil, reason: reason, outcome: outcome, record: false))
        case .read:
            if file.modified > now + 1 {
                logger.warning(
                    "the file's modification time is \(Int(file.modified - now)) s in the future (the uploader's clock?); it counts as arriving now",
                    metadata: ["file": "\(file.relativePath)"])
            }
            onFile(file)
            if let receipt = try await take(file) {
                pass.receipts.append(receipt)
            } else {
                pass.waiting.append((file.relativePath, .changedWhileRead))
            }
        case .gone:
            break
        }
    }

    /// Reads a ready file's fingerprint and does what ``IntakeDecision/known(_:file:rules:)``
    /// says. Returns nil when the file must be looked at again later (it changed while being
    /// read). Throws only for ledger or disk failures, never for a bad file.
    func take(_ file: InboxFile) async throws -> Receipt? {
        var options = ReadingOptions()
        if legacyMAIDType == nil { legacyMAIDType = .some(try await ledger.reader.legacyMAIDType()) }
        options.identifierRules = configuration.identifierRules(forPartner: file.partner, legacyMAIDType: legacyMAIDType ?? nil)
        options.maximumDecompressedBytes = configuration.maxDecompressedBytes
        options.progress = progress
        if let partner = file.partner, let settings = configuration.partners?[partner] {
            options.allowedSegments = settings.segments
        }
        let reader: AudienceFileReader
        let fingerprint: Digest32
        do {
            reader = try AudienceFileReader(path: file.path, options: options)
            fingerprint = try reader.fingerprint(between: PlanningStopped.checkCancellation)
        } catch let error as AudienceFileError {
            return try await handleUnreadable(file, fingerprint: nil, error)
        }
        let memory = try await remembered(fingerprint)
        switch IntakeDecision.known(memory, file: file, rules: rules) {
        case .plan(let limit, let reapplying):
            return try await plan(file, reader: reader, fingerprint: fingerprint, removalLimit: limit, reapplying: reapplying)
        case .finishMove:
            // Planned, then stopped before the move: the receipt written then (with its rejected
            // lines) is kept, else one is made from what the ledger recorded.
            guard let record = memory.record else { return nil }
            var receipt = receipts.written(for: file, fingerprint: fingerprint)
                ?? Receipt(applied: file, fingerprint: record.fingerprint, Receipt.Applied(record))
            let destination = try mover.freeName(for: file, in: .archive, suffix: String(fingerprint.hex.prefix(12)))
            receipt.archivedAs = destination
            try await receipts.write(receipt, for: file, fingerprint: fingerprint)
            try await archive(file, to: destination, fingerprint: fingerprint)
            return receipt
        case .duplicate(let reason):
            var receipt = Receipt(file: file, outcome: .duplicate)
            receipt.fingerprint = fingerprint.hex
            receipt.reason = reason
            // The same bytes are archived already: the duplicate is recorded (its receipt, the
            // ledger's count), not kept a second time. The receipt first: a stop before the
            // removal takes the file again, and its receipt is written again in the same place.
            try await receipts.write(receipt, for: file, fingerprint: fingerprint)
            KillPoint.afterReceiptWritten.pass()
            try await ledger.forgetArrival(ArrivalKey(device: file.device, inode: file.inode))
            try mover.discard(file)
            KillPoint.afterFileMoved.pass()
            try await ledger.recordDuplicate(fingerprint: fingerprint)
            return receipt
        case .holdAgain(let reason):
            return try await setAside(file, fingerprint: fingerprint, reason: reason, outcome: .held, record: false)
        case .rejectAgain(let reason):
            return try await setAside(file, fingerprint: fingerprint, reason: reason, outcome: .rejected, record: false)
        }
    }

    /// What the ledger remembers of these bytes, as much as the decision needs.
    private func remembered(_ fingerprint: Digest32) async throws -> IntakeDecision.Memory {
        var memory = IntakeDecision.Memory(record: try await ledger.reader.fileRecord(fingerprint: fingerprint))
        if let record = memory.record, record.outcome == .applied, record.kind == .snapshot, record.archivedAs != nil {
            memory.appliedAfter = try await ledger.reader.hasFileAppliedAfter(fingerprint: fingerprint)
        }
        if memory.record == nil || memory.appliedAfter {
            memory.approved = try await ledger.reader.isApproved(fingerprint: fingerprint)
        }
        return memory
    }

    /// Reads and sorts the file here, then has the ledger apply it in one transaction; archives
    /// it and writes its receipt. A snapshot over the removal limit is held instead.
    private func plan(
        _ file: InboxFile, reader: AudienceFileReader, fingerprint: Digest32, removalLimit: Double?, reapplying: Bool
    ) async throws -> Receipt? {
        let result: FileApplyResult
        do {
            // The ledger's writer is busy only while the sorted changes are written.
            let sorted = try planner.sort(reader)
            result = try await ledger.applyFile(
                sorted, fingerprint: fingerprint, name: file.relativePath, size: reader.size,
                maximumRemovalPercent: removalLimit, reapplying: reapplying)
        } catch let error as AudienceFileError {
            return try await handleUnreadable(file, fingerprint: fingerprint, error)
        } catch let held as SnapshotHeld {
            try await ledger.recordRejectedFile(
                fingerprint: fingerprint, name: file.relativePath, size: file.size, reason: held.description, outcome: .held,
                arrived: file.arrived)
            return try await setAside(file, fingerprint: fingerprint, reason: held.description, outcome: .held, record: false)
        }
        KillPoint.afterPlanCommitted.pass()
        try mover.write(Array("\(result.generation)\n".utf8), to: Configuration.ledgerSealName)
        var receipt = Receipt(applied: file, fingerprint: fingerprint.hex, Receipt.Applied(result))
        receipt.addReadingDetails(result.summary)
        if reapplying {
            receipt.reason = "same bytes as a snapshot applied before; newer files were applied since, so it is applied again as the complete membership now"
        }
        if !result.summary.ignoredColumns.isEmpty {
            logger.warning("ignored unknown columns", metadata: [
                "file": "\(file.relativePath)", "columns": "\(result.summary.ignoredColumns.joined(separator: ","))",
            ])
        }
        // Only the file that was read is moved: an upload that replaced it under the same name
        // meanwhile stays in the inbox, and is taken next.
        let destination = FileIdentity(path: file.path) == reader.identity
            ? try mover.freeName(for: file, in: .archive, suffix: String(fingerprint.hex.prefix(12))) : nil
        receipt.archivedAs = destination
        try await receipts.write(receipt, for: file, fingerprint: fingerprint)
        if let destination {
            try await archive(file, to: destination, fingerprint: fingerprint)
        } else {
            logger.notice("a new upload replaced the file while it was read; the new one is taken next", metadata: ["file": "\(file.relativePath)"])
        }
        return receipt
    }

    /// Moves an applied file, whose receipt is written, to `destination` in `archive/`. Its
    /// receipt is written first so that a stop at any moment leaves the file in the inbox, to
    /// be finished by the next look (``IntakeDecision/Known/finishMove``), or its receipt written;
    /// a stop between the move and recording it is mended from the receipt
    /// (``Receipts/finishInterrupted()``).
    private func archive(_ file: InboxFile, to destination: String, fingerprint: Digest32) async throws {
        KillPoint.afterReceiptWritten.pass()
        try mover.move(file, to: destination)
        KillPoint.afterFileMoved.pass()
        try await ledger.recordArchived(fingerprint: fingerprint, as: destination)
    }

    private func handleUnreadable(_ file: InboxFile, fingerprint: Digest32?, _ error: AudienceFileError) async throws -> Receipt? {
        switch error.kind {
        case .changedWhileReading:
            logger.notice("file changed while being read; it will be read again", metadata: ["file": "\(file.relativePath)"])
            return nil
        case .unreadable:
            logger.error("cannot read file: \(error.description)", metadata: ["file": "\(file.relativePath)"])
            return nil
        default:
            return try await setAside(file, fingerprint: fingerprint, reason: error.description, outcome: .rejected, record: true)
        }
    }

    /// Moves a file that is not applied into `rejected/` or (held) `held/`, with a `.reason.txt`
    /// beside it, and writes its receipt. `record`: remember its bytes as rejected, so that a
    /// re-upload is known at once.
    private func setAside(
        _ file: InboxFile, fingerprint: Digest32?, reason: String, outcome: Receipt.Outcome, record: Bool
    ) async throws -> Receipt {
        if record, let fingerprint {
            try await ledger.recordRejectedFile(
                fingerprint: fingerprint, name: file.relativePath, size: file.size, reason: reason, outcome: .rejected)
        }
        var receipt = Receipt(file: file, outcome: outcome)
        receipt.fingerprint = fingerprint?.hex
        receipt.reason = reason
        let suffix = fingerprint.map { String($0.hex.prefix(12)) } ?? "\(Int(Date().timeIntervalSince1970))"
        let destination = try mover.freeName(for: file, in: outcome == .held ? .held : .rejected, suffix: suffix)
        receipt.archivedAs = destination
        // The reason and the receipt before the move: a stop before it takes the file again, and
        // both are written again in the same places.
        let verb = outcome == .held ? "is held" : "was rejected"
        try mover.write(Array("\(file.relativePath) \(verb): \(reason)\n".utf8), to: FileName.appending(".reason.txt", to: destination))
        try await receipts.write(receipt, for: file, fingerprint: fingerprint)
        KillPoint.afterReceiptWritten.pass()
        try mover.move(file, to: destination)
        KillPoint.afterFileMoved.pass()
        return receipt
    }
}

extension Intake {
    /// Approves a held snapshot and puts it back into the inbox where it came from.
    /// Returns its path below the inbox.
    public func approveHeld(path: String) async throws -> String {
        let heldRoot = configuration.heldDirectory + "/"
        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        guard absolute.hasPrefix(heldRoot) else {
            throw InboxError(path: path, "is not in \(heldRoot); approve the file as it lies in held/", ending: .inputRejected)
        }
        let reader = try AudienceFileReader(path: absolute)
        let fingerprint = try reader.fingerprint()
        guard let record = try await ledger.reader.fileRecord(fingerprint: fingerprint), record.outcome == .held else {
            throw InboxError(path: path, "is not a held file (no held record for its contents)", ending: .inputRejected)
        }
        // Approved now, it would arrive after files its partner sent later, and undo their changes.
        let parts = record.name.split(separator: "/", maxSplits: 1)
        let later = try await ledger.reader.filesApplied(after: fingerprint, inFolder: parts.count > 1 ? String(parts[0]) : nil)
        if !later.isEmpty {
            throw InboxError(
                path: path,
                "cannot be approved: \(later.count) later file(s) of the same folder were applied since it was held (\(later.prefix(3).map(\.escapingControlCharacters).joined(separator: ", "))), and applying this snapshot now would undo their changes. Ask the partner for a fresh complete snapshot, and delete the held file", ending: .inputRejected)
        }
        let arrived = try await ledger.reader.heldArrival(fingerprint: fingerprint)
        try await ledger.approve(fingerprint: fingerprint, now: Int64(Date().timeIntervalSince1970))
        let destination: String
        do {
            destination = try mover.restore(absolute, toInbox: configuration.inbox, as: record.name)
        } catch {
            try await ledger.withdrawApproval(fingerprint: fingerprint, held: record, arrived: arrived)
            throw error
        }
        // Its place in line is where it first arrived: before the files its partner sent after it.
        if let arrived, let identity = FileIdentity(path: destination) {
            try await ledger.setArrival(ArrivalKey(device: identity.device, inode: identity.inode), to: arrived)
        }
        return String(destination.dropFirst(configuration.inbox.count + 1))
    }
}
