/// What a file says about membership: a delta lists changes (it has an action column); a
/// snapshot is the complete membership of the segments it names, as of its arrival.
public enum FileKind: String, Sendable, Codable, Equatable {
    case delta
    case snapshot

    public init(isDelta: Bool) {
        self = isDelta ? .delta : .snapshot
    }
}
