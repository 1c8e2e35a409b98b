import Glibc

/// Flushing to disk what a rename or a write must not lose in a crash.
package enum FileSync {
    /// fsyncs the file at `path`; false when it cannot be opened or flushed (errno says why).
    package static func file(_ path: String) -> Bool {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        return fsync(descriptor) == 0
    }

    /// fsyncs the folder holding `path`, so that a rename or a new name in it lasts.
    package static func folder(containing path: String) {
        let folder = String(path.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/"))
        let descriptor = open(folder.isEmpty ? "/" : folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if descriptor >= 0 {
            fsync(descriptor)
            close(descriptor)
        }
    }
}
