/// The emulator's own routes, under `/_emulator`; not part of TikTok's API.
enum AdminRoute: CaseIterable, Sendable {
    static let prefix = "/_emulator"

    case members
    case stats
    case faults

    var path: String {
        switch self {
        case .members: "/_emulator/members"
        case .stats: "/_emulator/stats"
        case .faults: "/_emulator/faults"
        }
    }

    var method: String {
        switch self {
        case .members, .stats: "GET"
        case .faults: "POST"
        }
    }

    init?(path: String) {
        let trimmed = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
        guard let route = Self.allCases.first(where: { $0.path == trimmed }) else { return nil }
        self = route
    }
}
