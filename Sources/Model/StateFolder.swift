/// The folders below the state directory where files end up, one name each.
public enum StateFolder: String, Sendable, CaseIterable {
    /// Applied files and duplicates, under their partner folder, with a fingerprint suffix.
    case archive
    /// Files not applied, each with a `.reason.txt` beside it.
    case rejected
    /// Snapshots held for removing too much, until `approve`.
    case held
    /// One receipt per file, for the partner to fetch.
    case receipts

    /// The folder's path below `stateDirectory`.
    public func path(in stateDirectory: String) -> String { stateDirectory + "/" + rawValue }
}
