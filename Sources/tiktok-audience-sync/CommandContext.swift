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

    static let sharedRedactor = Redactor()

    static func load(_ options: ConfigOptions, resolveToken: Bool = true) async throws -> CommandContext {
        let environment = ProcessInfo.processInfo.environment
        let redactor = sharedRedactor
        if let token = environment["TIKTOK_ACCESS_TOKEN"] { redactor.add(token.trimmingCharacters(in: .whitespacesAndNewlines)) }
        let level = Logger.Level(rawValue: options.logLevel.lowercased()) ?? .info
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

    /// Opens the ledger, creating the state directory's folders when needed. A ledger that is
    /// missing or empty while archive/ or receipts/ show that files were applied is refused (78):
    /// starting afresh would forget what TikTok holds, and a later snapshot would leave stale
    /// members at TikTok for good.
    func openLedger() async throws -> Ledger {
        try refuseLostLedger()
        do {
            let mover = FileMover(stateDirectory: configuration.stateDirectory)
            try mover.makeDirectories(configuration.stateDirectory)
            let ledger = try await Ledger.open(path: configuration.ledgerPath)
            try await refuseLedgerOlderThanSeal(ledger, mover: mover)
            return ledger
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
    /// would take what TikTok holds for what it held back then.
    private func refuseLedgerOlderThanSeal(_ ledger: Ledger, mover: FileMover) async throws {
        let sealPath = configuration.stateDirectory + "/" + Configuration.ledgerSealName
        guard let text = try? String(contentsOfFile: sealPath, encoding: .utf8),
            let sealed = Int64(text.trimmingCharacters(in: .whitespacesAndNewlines))
        else { return }
        let last = try await ledger.reader.lastAppliedGeneration()
        guard last < sealed else { return }
        guard ProcessInfo.processInfo.environment[Self.startAnewVariable] == "1" else {
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
