import ArgumentParser
import Synchronization
import Foundation
import Logging
import AudienceConfig
import AudienceDaemon
import AudienceInbox
import AudienceLedger
import AudienceReading
import AudienceSupport
import AudienceTikTok

/// What a command needs once its configuration is loaded: the configuration, a logger that
/// redacts the token, and the token itself when one is configured.
struct CommandContext {
    let configuration: Configuration
    let logger: Logger
    let redactor: Redactor
    let token: AccessToken?
    let tokenOrigin: String?
    /// The environment the pipeline reads the token from: the process's, plus the token read
    /// before a root run became the state directory's owner (``useStateDirectory()``).
    var environment = ProcessInfo.processInfo.environment

    static let sharedRedactor = Redactor()

    /// `summarisesOnTerminal`: the command prints a summary of every event it logs at info
    /// (`once`); when its output and its log go to the same terminal, only warnings and worse are
    /// logged (unless `--log-level` says otherwise), so that nothing is printed twice.
    static func load(_ options: ConfigOptions, resolveToken: Bool = true, summarisesOnTerminal: Bool = false) async throws -> CommandContext {
        let environment = ProcessInfo.processInfo.environment
        let redactor = sharedRedactor
        if let token = environment["TIKTOK_ACCESS_TOKEN"] { redactor.add(token.trimmingCharacters(in: .whitespacesAndNewlines)) }
        let interactive = summarisesOnTerminal && isatty(STDOUT_FILENO) != 0 && isatty(STDERR_FILENO) != 0
        let level = options.logLevel.flatMap { Logger.Level(rawValue: $0.lowercased()) } ?? (interactive ? .warning : .info)
        bootstrapLogging(level: level, redactor: redactor)
        let logger = Logger(label: "tiktok-audience-sync")
        do {
            let configuration = try await ConfigurationLoader.load(path: options.config, environment: environment)
            let resolved = resolveToken ? try TokenSource.resolve(configuration: configuration, environment: environment) : nil
            resolved?.token.register(in: redactor)
            return CommandContext(
                configuration: configuration, logger: logger, redactor: redactor, token: resolved?.token,
                tokenOrigin: resolved?.origin)
        } catch {
            throw fail(error, redactor: redactor)
        }
    }

    /// For commands that use the state directory, before they touch it. Run by root while the
    /// directory is another user's (the service's), the command reads the token as root (as
    /// systemd reads the credential), then acts as that user, so that what it creates stays
    /// the daemon's. Run by another user who cannot write there, it exits 78 with the exact
    /// command to use. Either way, something below it that this user cannot write (left by an
    /// earlier root run) is exit 78 with the chown that mends it. `readOnly`: a command that only
    /// reads (`status`, `plan`) needs only to read there: a monitoring user in the service's group.
    mutating func useStateDirectory(readOnly: Bool = false) throws {
        let state = configuration.stateDirectory
        guard let owner = StateOwner(of: state) else { return }
        if geteuid() == 0 && owner.uid != 0 {
            // The pipeline reads the token from its environment; after the switch it could not
            // read a root-only token file any more.
            if let token = token ?? (try? TokenSource.resolve(configuration: configuration, environment: environment))?.token {
                token.register(in: redactor)
                environment["TIKTOK_ACCESS_TOKEN"] = token.value
            }
            if let problem = owner.become() {
                throw fail("cannot act as \(owner.described), the owner of \(state): \(problem)", Exit.badConfiguration, redactor: redactor)
            }
            FileHandleOutput.standardError(
                "tiktok-audience-sync: acting as \(owner.described), the owner of \(state), so that what this command writes there stays the service's\n")
        } else if readOnly, geteuid() != owner.uid, access(state, R_OK | X_OK) == 0 {
            return
        } else if geteuid() != owner.uid, access(state, W_OK | X_OK) != 0 {
            throw fail(
                "\(state) belongs to \(owner.described) and this user cannot \(readOnly ? "read" : "write") there; run: \(owner.sudo) \(StateOwner.commandLine) (or run it as root: it then acts as \(owner.name ?? "that user"))\(readOnly ? ", or add this user to the group that may read it" : "")",
                Exit.badConfiguration, redactor: redactor)
        }
        let blocked = StateOwner.unwritable(in: state, ledgerPath: configuration.ledgerPath)
        guard blocked.isEmpty else {
            let me = StateOwner.current
            throw fail(
                "\(me.described) cannot write to \(blocked.joined(separator: ", ")) (left by a run as another user?); run as root: chown -R \(me.chownSpec) \(state)",
                Exit.badConfiguration, redactor: redactor)
        }
    }

    /// A client for commands that call TikTok; without a token, exit 78 saying where one goes.
    func tiktokClient() throws -> TikTokClient {
        guard let token else {
            throw fail(
                "no access token: set the systemd credential tiktok-access-token, TIKTOK_ACCESS_TOKEN or tiktok.access_token_file (tiktok-audience-sync auth writes it)",
                Exit.badConfiguration, redactor: redactor)
        }
        return TikTokClient(
            baseURL: configuration.tiktok.baseURL, advertiserID: configuration.tiktok.advertiserID, token: token,
            timeout: .seconds(20))
    }

    /// Takes the state directory's lock (creating the directory if needed), or exits 75 naming the
    /// instance that holds it.
    func lockStateDirectory() throws -> StateLock {
        do {
            try FileMover(stateDirectory: configuration.stateDirectory).makeDirectories(configuration.stateDirectory)
            let lock = try StateLock(stateDirectory: configuration.stateDirectory)
            // What an earlier process last saw is not this one's (a restarted daemon may get the
            // same pid): `status` shows nothing until this process has looked at the inbox.
            DaemonStatusFile.remove(stateDirectory: configuration.stateDirectory)
            return lock
        } catch {
            throw fail(error, redactor: redactor)
        }
    }

    /// Opens the ledger for writing, creating the state directory's folders when needed. A
    /// ledger that is missing or empty while archive/ or receipts/ show that files were applied
    /// is refused (78): starting afresh would forget what TikTok holds, and a later snapshot would
    /// leave stale members at TikTok for good. `holdingLock`: only the process that holds the
    /// state directory's lock (``lockStateDirectory()``) upgrades a ledger of an earlier version;
    /// any other refuses it, saying to restart the service.
    func openLedger(holdingLock: Bool) async throws -> Ledger {
        try refuseLostLedger()
        do {
            let mover = FileMover(stateDirectory: configuration.stateDirectory)
            try mover.makeDirectories(configuration.stateDirectory)
            let ledger = try await Ledger.open(path: configuration.ledgerPath, upgrading: holdingLock)
            try await refuseLedgerOlderThanSeal(ledger.reader, mover: mover)
            return ledger
        } catch let exit as ExitCode {
            throw exit
        } catch {
            throw fail(error, redactor: redactor)
        }
    }

    /// Opens the ledger for a command that only reads: nothing is created, upgraded or written
    /// (see ``LedgerReader/open(path:)``), with the same refusals as ``openLedger(holdingLock:)``.
    func openLedgerForReading() async throws -> LedgerReader {
        try refuseLostLedger()
        do {
            let reader = try await LedgerReader.open(path: configuration.ledgerPath)
            try await refuseLedgerOlderThanSeal(reader, mover: nil)
            return reader
        } catch let exit as ExitCode {
            throw exit
        } catch {
            throw fail(error, redactor: redactor)
        }
    }
}

extension CommandContext {
    static let startAnewVariable = "TIKTOK_AUDIENCE_SYNC_START_ANEW"

    private func refuseLostLedger() throws {
        let files = FileManager.default
        let size = (try? files.attributesOfItem(atPath: configuration.ledgerPath)[.size] as? Int) ?? nil
        guard size == nil || size == 0 else { return }
        // Files, not folders: setting up a partner creates empty ones.
        let traces = [configuration.archiveDirectory, configuration.receiptsDirectory].filter { folder in
            guard let walker = files.enumerator(atPath: folder) else { return false }
            return walker.contains { _ in walker.fileAttributes?[.type] as? FileAttributeType == .typeRegular }
        }
        guard !traces.isEmpty, ProcessInfo.processInfo.environment[Self.startAnewVariable] != "1" else { return }
        throw fail(
            """
            the ledger \(configuration.ledgerPath) is \(size == nil ? "missing" : "empty"), but \(traces.joined(separator: " and ")) show that files were applied before: \
            starting afresh would forget what TikTok holds. Restore the ledger (with its -wal file) from a backup and start again. \
            To start anew on purpose, run once with \(Self.startAnewVariable)=1: every file from then on is applied to an empty ledger, \
            and members TikTok holds from before stay there until a snapshot of their segment is sent
            """, Exit.badConfiguration, redactor: redactor)
    }
}

extension CommandContext {
    /// A ledger whose last applied file is older than the seal written after it lost its latest
    /// commits (its -wal file deleted after a crash, or an older copy put back): refused, as it
    /// would take what TikTok holds for what it held back then. `mover`: to write the seal anew
    /// when asked to go on (nil for a command that only reads).
    private func refuseLedgerOlderThanSeal(_ ledger: LedgerReader, mover: FileMover?) async throws {
        let sealPath = configuration.stateDirectory + "/" + Configuration.ledgerSealName
        guard let text = try? String(contentsOfFile: sealPath, encoding: .utf8),
            let sealed = Int64(text.trimmingCharacters(in: .whitespacesAndNewlines))
        else { return }
        let last = try await ledger.lastAppliedGeneration()
        guard last < sealed else { return }
        guard ProcessInfo.processInfo.environment[Self.startAnewVariable] == "1", let mover else {
            throw fail(
                """
                the ledger \(configuration.ledgerPath) is older than the last file it applied (generation \(last), the seal \(sealPath) says \(sealed)): \
                its -wal file was lost, or an older copy was put back. It would take what TikTok holds for what it held back then. \
                Put back the ledger's -wal file or a newer copy. To go on with this ledger on purpose, run once with \(Self.startAnewVariable)=1, \
                then send a fresh snapshot of each segment the later files changed
                """, Exit.badConfiguration, redactor: redactor)
        }
        try mover.write(Array("\(last)\n".utf8), to: Configuration.ledgerSealName)
    }
}

private let loggingBootstrapped = LoggingOnce()

private final class LoggingOnce: Sendable {
    private let done = Mutex(false)
    func run(_ body: () -> Void) {
        let first = done.withLock { value in
            defer { value = true }
            return !value
        }
        if first { body() }
    }
}

func bootstrapLogging(level: Logger.Level, redactor: Redactor) {
    loggingBootstrapped.run {
        let native = NativeJournal.sink(environment: ProcessInfo.processInfo.environment)
        LoggingSystem.bootstrap { label in JournalLogHandler(label: label, level: level, redactor: redactor, native: native) }
    }
}
