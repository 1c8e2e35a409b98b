import ArgumentParser
import Synchronization
import AudienceSync
import Foundation
import Logging

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
        } catch let error as ConfigurationError {
            throw fail(error.description, Exit.badConfiguration, redactor: redactor)
        }
    }

    /// Takes the state directory's lock (creating the directory if needed), or exits 75 naming the
    /// instance that holds it.
    func lockStateDirectory() throws -> StateLock {
        do {
            try FileMover(stateDirectory: configuration.stateDirectory).makeDirectories(configuration.stateDirectory)
            return try StateLock(stateDirectory: configuration.stateDirectory)
        } catch {
            throw fail("\(error)", Exit.workPending, redactor: redactor)
        }
    }

    /// Opens the ledger, creating the state directory's folders when needed.
    func openLedger() throws -> Ledger {
        do {
            try FileMover(stateDirectory: configuration.stateDirectory).makeDirectories(configuration.stateDirectory)
            return try Ledger(path: configuration.ledgerPath)
        } catch let error as LedgerError {
            throw fail(error.description, Exit.badConfiguration, redactor: redactor)
        } catch {
            throw fail("\(error)", Exit.badConfiguration, redactor: redactor)
        }
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
        LoggingSystem.bootstrap { label in JournalLogHandler(label: label, level: level, redactor: redactor) }
    }
}
