import ArgumentParser
import Foundation
import AudienceLedger
import AudienceSupport

extension AudienceSyncCommand {
    struct Backup: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Copy the ledger to a file while the daemon runs: consistent, no stop.",
            discussion: """
                Uses SQLite's online backup: the copy is the ledger as of one moment, taken while the daemon goes on
                reading files and sending. The copy is one file (no -wal), checked before it is put in place, and
                written as the state directory's owner (run by root, it acts as that user). It holds member hashes:
                keep it as private as the ledger. Restore steps: docs/operations.md, "Backup and restore".
                Example: tiktok-audience-sync backup --to /var/backups/tiktok-audience-sync/ledger.sqlite
                """)

        @OptionGroup var options: ConfigOptions

        @Option(help: ArgumentHelp("Where to write the copy (replaced if it exists).", valueName: "file"))
        var to: String

        func run() async throws {
            var context = try await CommandContext.load(options, resolveToken: false)
            try context.useStateDirectory()
            let ledgerPath = context.configuration.ledgerPath
            let destination = to.hasPrefix("/") ? to : FileManager.default.currentDirectoryPath + "/" + to
            guard FileManager.default.fileExists(atPath: ledgerPath) else {
                throw fail("there is no ledger at \(ledgerPath) yet: nothing to back up", Exit.badConfiguration, redactor: context.redactor)
            }
            let folder = (destination as NSString).deletingLastPathComponent
            // Compared as the file system sees them (./ledger.sqlite, //var/lib/..., a symlinked
            // folder): a copy put over the live ledger, or where retention deletes, is no backup.
            let state = URL(fileURLWithPath: context.configuration.stateDirectory).resolvingSymlinksInPath().path
            let target = URL(fileURLWithPath: folder).resolvingSymlinksInPath().path
            guard target != state && !target.hasPrefix(state + "/") else {
                throw fail(
                    "--to must be outside the state directory \(context.configuration.stateDirectory) (the ledger lives there, and retention deletes there); e.g. /var/backups/tiktok-audience-sync/ledger.sqlite",
                    Exit.inputRejected, redactor: context.redactor)
            }
            guard access(folder, W_OK | X_OK) == 0 else {
                throw fail(
                    "\(StateOwner.current.described) cannot write to \(folder); back up into a folder it owns, e.g. install -d -m 0700 -o \(StateOwner.current.name ?? "\(geteuid())") /var/backups/tiktok-audience-sync",
                    Exit.badConfiguration, redactor: context.redactor)
            }
            let executor = ThreadExecutor(label: "tiktok-audience-sync.backup")
            let started = ISO8601Time.string(Int(clockSeconds()))
            do {
                let copy = try await executor.run { try LedgerBackup.copy(ledgerAt: ledgerPath, to: destination) }
                say(
                    "backed up \(ledgerPath) to \(copy.path): \(copy.bytes.formatted(.byteCount(style: .file))), schema step \(copy.schemaStep), last file applied: generation \(copy.lastGeneration), as of \(started)")
            } catch {
                throw fail(error, redactor: context.redactor)
            }
        }
    }
}
