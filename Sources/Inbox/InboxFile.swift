import AudienceLedger

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
    /// When it arrived: its inode's change time when first seen in the inbox, which no upload tool
    /// can set (`sftp put -p` and `rsync -t` preserve the partner's modification time, and a
    /// partner's clock may be ahead). The ledger remembers it per inode (``Ledger/arrivals(_:)``).
    /// Files are taken in this order, so `once` and `run` see the same order for the same arrivals.
    public var arrived: Double = 0
    /// Which inode: its arrival is remembered by it, so a rename or a `chmod` of a waiting file
    /// (which changes its change time) does not move it back in line.
    public var device: UInt64 = 0
    public var inode: UInt64 = 0
    /// When the file was created (statx's birth time; nil where the file system does not say).
    /// An inode is reused once its file is gone: a file born after the arrival remembered for its
    /// inode is a new upload, not the one remembered.
    public var born: Double?
    /// Set when the name the partner gave was not valid UTF-8 and the scanner renamed the file
    /// to a readable one: the original, its bytes outside ASCII written as `\xHH`.
    public var originalName: String?

    /// The partner folder, or "" for files directly in the inbox: no file overtakes an older
    /// one with the same key.
    public var orderingKey: String { partner ?? "" }

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
