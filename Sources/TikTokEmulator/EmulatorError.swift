/// Why the emulator could not start or run.
public struct EmulatorError: Error, CustomStringConvertible, Equatable {
    private enum Code: Equatable {
        case notListening
        case invalidConfiguration(String)
    }

    private let code: Code

    /// The server stopped before it reported a bound port.
    public static let notListening = EmulatorError(code: .notListening)

    /// The configuration cannot work, e.g. an empty access token.
    public static func invalidConfiguration(_ reason: String) -> EmulatorError {
        EmulatorError(code: .invalidConfiguration(reason))
    }

    public var description: String {
        switch self.code {
        case .notListening: "the emulator stopped before it was listening"
        case .invalidConfiguration(let reason): "invalid emulator configuration: \(reason)"
        }
    }
}
