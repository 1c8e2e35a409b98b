/// A file found in the inbox: where it is, which partner folder it is in, and its size and age.
public struct InboxFile: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case regular
        /// Symlinks, FIFOs, sockets and devices: never opened, moved aside with a reason.
        case notRegular(String)
    }

    public var path: String
    /// Path below the inbox, `acme/2026-11-25.csv`.
    public var relativePath: String
    /// The first folder below the inbox, when the file is in one.
    public var partner: String?
    public var size: Int64
    public var modified: Double
    public var kind: Kind

    public var name: String { String(relativePath.split(separator: "/").last ?? Substring(relativePath)) }
}

/// Temporary names that uploads use before they are renamed into place.
public enum UploadNames {
    static let temporarySuffixes = [".part", ".tmp", ".filepart", ".partial", ".uploading", ".crdownload"]
    public static let completionMarkerSuffix = ".done"

    public static func isTemporary(_ name: String) -> Bool {
        if name.hasPrefix(".") || name.hasPrefix("~") { return true }
        let lowered = name.lowercased()
        return temporarySuffixes.contains { lowered.hasSuffix($0) }
    }

    public static func isCompletionMarker(_ name: String) -> Bool {
        name.lowercased().hasSuffix(completionMarkerSuffix)
    }
}
