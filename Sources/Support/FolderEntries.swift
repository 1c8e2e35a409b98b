import Glibc

/// The entries of one folder, read with readdir (never following a link), "." and ".." left out.
package struct FolderEntry: Sendable {
    /// The name as text; for a name that is not valid UTF-8 it has replacement characters and
    /// names nothing on disk: `invalidName` then holds its bytes.
    package var name: String
    package var invalidName: [UInt8]?
    /// readdir's type (DT_DIR, DT_REG, DT_LNK, ...); a folder on a file system that does not say
    /// types is asked with lstat and reported DT_DIR.
    package var type: Int32
    package var isFolder: Bool { type == DT_DIR }
}

package enum FolderEntries {
    /// Nil when the folder cannot be opened (errno says why).
    package static func read(_ directory: String) -> [FolderEntry]? {
        guard let stream = opendir(directory) else { return nil }
        defer { closedir(stream) }
        var result: [FolderEntry] = []
        while let entry = readdir(stream) {
            let bytes = withUnsafeBytes(of: entry.pointee.d_name) { raw in Array(raw.prefix(while: { $0 != 0 })) }
            let name = String(decoding: bytes, as: UTF8.self)
            if name == "." || name == ".." { continue }
            var type = Int32(entry.pointee.d_type)
            if type == DT_UNKNOWN {
                var info = stat()
                if lstat(directory + "/" + name, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR { type = Int32(DT_DIR) }
            }
            let invalid = String(validating: bytes, as: UTF8.self) == nil
            result.append(FolderEntry(name: name, invalidName: invalid ? bytes : nil, type: type))
        }
        return result
    }
}
