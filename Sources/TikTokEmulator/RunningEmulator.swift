/// A started emulator: where to reach it and a handle on its state.
public struct RunningEmulator: Sendable {
    /// The TikTok API base, e.g. `http://127.0.0.1:PORT/open_api/v1.3`.
    public let baseURL: String
    /// The bound port.
    public let port: Int
    /// Inspect and steer the running emulator.
    public let state: EmulatorState
    /// The server root, e.g. `http://127.0.0.1:PORT`; the `/_emulator/...` admin routes live under it.
    public let rootURL: String

    init(host: String, port: Int, state: EmulatorState) {
        let authority = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        self.rootURL = "http://\(authority)"
        self.baseURL = self.rootURL + TikTokRoute.apiPrefix
        self.port = port
        self.state = state
    }
}
