import Hummingbird
import Logging

/// A local HTTP server that speaks TikTok's audience-segment API (TIKTOK_API.md), for tests and trials.
///
/// It binds a port (0 picks a free one), reports its URL, keeps audiences in memory and can be made
/// to misbehave with ``EmulatorFault``s. Admin routes under `/_emulator` expose its state to scripts.
public enum TikTokEmulator {
    /// Starts the server, runs `body`, always shuts the server down (even if `body` throws).
    public static func withRunning<T: Sendable>(
        _ configuration: EmulatorConfiguration = .init(),
        _ body: (RunningEmulator) async throws -> T
    ) async throws -> T {
        let state = EmulatorState(configuration: configuration)
        let logSwitch = ShutdownMutingLogHandler.Switch()
        let (application, ports) = try Self.makeApplication(configuration, state: state, logSwitch: logSwitch)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                defer { ports.continuation.finish() }
                try await application.run()
            }
            guard let port = await ports.stream.first(where: { _ in true }) else {
                // The server stopped (or could not tell its port) before listening: surface why.
                logSwitch.mute()
                group.cancelAll()
                try await group.waitForAll()
                throw EmulatorError.notListening
            }
            let running = RunningEmulator(host: configuration.host, port: port, state: state)
            let result: Result<T, any Error>
            do {
                result = .success(try await body(running))
            } catch {
                result = .failure(error)
            }
            logSwitch.mute()
            group.cancelAll()
            // Errors raised while tearing the server down say nothing about the body's work.
            try? await group.waitForAll()
            return try result.get()
        }
    }

    /// Runs until cancelled or until SIGTERM / SIGINT (then shuts down gracefully and returns).
    /// `onReady` is called once the server is listening, with its URL; the server keeps serving meanwhile.
    public static func run(
        _ configuration: EmulatorConfiguration,
        onReady: @Sendable (RunningEmulator) async -> Void
    ) async throws {
        let state = EmulatorState(configuration: configuration)
        let (application, ports) = try Self.makeApplication(
            configuration,
            state: state,
            logSwitch: ShutdownMutingLogHandler.Switch()
        )
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                defer { ports.continuation.finish() }
                try await application.runService()
            }
            guard let port = await ports.stream.first(where: { _ in true }) else {
                group.cancelAll()
                try await group.waitForAll()
                throw EmulatorError.notListening
            }
            await onReady(RunningEmulator(host: configuration.host, port: port, state: state))
            try await group.waitForAll()
        }
    }

    private typealias PortStream = (stream: AsyncStream<Int>, continuation: AsyncStream<Int>.Continuation)

    private static func makeApplication(
        _ configuration: EmulatorConfiguration,
        state: EmulatorState,
        logSwitch: ShutdownMutingLogHandler.Switch
    ) throws(EmulatorError) -> (some ApplicationProtocol, PortStream) {
        try Self.validate(configuration)
        let ports = AsyncStream.makeStream(of: Int.self)
        let logger = Logger(label: "tiktok-emulator") { label in
            ShutdownMutingLogHandler(label: label, level: .warning, shutdown: logSwitch)
        }
        let application = Application(
            responder: EmulatorResponder(state: state, latency: configuration.latency),
            configuration: ApplicationConfiguration(address: .hostname(configuration.host, port: configuration.port)),
            onServerRunning: { channel in
                if let port = channel.localAddress?.port {
                    ports.continuation.yield(port)
                }
                ports.continuation.finish()
            },
            logger: logger
        )
        return (application, ports)
    }

    private static func validate(_ configuration: EmulatorConfiguration) throws(EmulatorError) {
        guard !configuration.accessToken.isEmpty else {
            throw .invalidConfiguration("the access token is empty")
        }
        guard WireRules.isDigitID(configuration.advertiserID) else {
            throw .invalidConfiguration("advertiser id \"\(configuration.advertiserID)\" is not 1 to 19 digits")
        }
        if let bad = configuration.audienceIDs.first(where: { !WireRules.isDigitID($0) }) {
            throw .invalidConfiguration("audience id \"\(bad)\" is not 1 to 19 digits")
        }
        guard (0...65_535).contains(configuration.port) else {
            throw .invalidConfiguration("port \(configuration.port) is not 0 to 65535")
        }
        if let limit = configuration.requestsPerSecondLimit, limit < 0 {
            throw .invalidConfiguration("requests per second limit \(limit) is negative")
        }
        guard configuration.latency >= .zero else {
            throw .invalidConfiguration("latency is negative")
        }
    }
}
