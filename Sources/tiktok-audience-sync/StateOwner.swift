import Foundation
import Glibc
import AudienceSupport

/// The user who owns the state directory: the service's user. A command run by root acts as
/// that user, so that nothing it creates there (a ledger, its log, an archive folder) is
/// root's and refused to the daemon afterwards; any other user who cannot write there is told
/// the exact command to use instead.
struct StateOwner {
    let uid: uid_t
    let gid: gid_t
    /// Nil for a user without an entry in the user database (systemd's DynamicUser=).
    let name: String?

    /// The owner of `stateDirectory`, or nil when it does not exist yet.
    init?(of stateDirectory: String) {
        var info = stat()
        guard stat(stateDirectory, &info) == 0 else { return nil }
        uid = info.st_uid
        if let entry = getpwuid(info.st_uid) {
            name = String(cString: entry.pointee.pw_name)
            gid = entry.pointee.pw_gid
        } else {
            name = nil
            gid = info.st_gid
        }
    }

    /// The user this process runs as.
    static var current: StateOwner {
        let uid = geteuid()
        if let entry = getpwuid(uid) {
            return StateOwner(uid: uid, gid: entry.pointee.pw_gid, name: String(cString: entry.pointee.pw_name))
        }
        return StateOwner(uid: uid, gid: getegid(), name: nil)
    }

    init(uid: uid_t, gid: gid_t, name: String?) {
        self.uid = uid
        self.gid = gid
        self.name = name
    }

    /// `NAME:` (the user and its group) or `UID:GID`, for chown.
    var chownSpec: String { name.map { "\($0):" } ?? "\(uid):\(gid)" }

    /// `sudo -u NAME` (or `#UID`), as a shell would take it.
    var sudo: String { "sudo -u " + (name ?? "'#\(uid)'") }
    var described: String { name.map { "\($0) (uid \(uid))" } ?? "uid \(uid)" }

    /// Becomes this user, groups first (the user's own, else the folder's group alone). Every
    /// thread of the process changes with it (glibc applies set*id to all threads).
    func become() -> String? {
        if let name {
            guard initgroups(name, gid) == 0 else { return "initgroups(\(name)): \(String(cString: strerror(errno)))" }
        } else {
            var groups = [gid]
            guard setgroups(1, &groups) == 0 else { return "setgroups: \(String(cString: strerror(errno)))" }
        }
        guard setgid(gid) == 0 else { return "setgid(\(gid)): \(String(cString: strerror(errno)))" }
        guard setuid(uid) == 0 else { return "setuid(\(uid)): \(String(cString: strerror(errno)))" }
        guard geteuid() == uid, getegid() == gid else { return "the process is still root after setuid" }
        return nil
    }

    /// The command line this process was started with, quoted for a shell.
    static var commandLine: String {
        CommandLine.arguments.map { argument in
            argument.allSatisfy { $0.isLetter || $0.isNumber || "-_./=:@,+".contains($0) } && !argument.isEmpty
                ? argument : "'" + argument.replacingOccurrences(of: "'", with: "'\\''") + "'"
        }.joined(separator: " ")
    }

    /// What below the state directory this user cannot write to (paths earlier versions or a
    /// root run left behind): the ledger's files, and every folder. Empty when all is well.
    static func unwritable(in stateDirectory: String, ledgerPath: String) -> [String] {
        var found: [String] = []
        let lock = stateDirectory + "/" + StateLock.fileName
        for path in [stateDirectory, ledgerPath, ledgerPath + "-wal", ledgerPath + "-shm", lock] where access(path, F_OK) == 0 {
            if access(path, W_OK) != 0 { found.append(path) }
        }
        for folder in ["archive", "rejected", "held", "receipts"] {
            collectUnwritableFolders(stateDirectory + "/" + folder, into: &found)
        }
        return found
    }

    private static func collectUnwritableFolders(_ directory: String, into found: inout [String]) {
        guard found.count < 5, let stream = opendir(directory) else { return }
        defer { closedir(stream) }
        if access(directory, W_OK | X_OK) != 0 { found.append(directory) }
        var subfolders: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard name != "." && name != ".." else { continue }
            var isFolder = entry.pointee.d_type == UInt8(DT_DIR)
            if entry.pointee.d_type == UInt8(DT_UNKNOWN) {
                // Some file systems do not say the type: ask.
                var info = stat()
                isFolder = lstat(directory + "/" + name, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
            }
            if isFolder { subfolders.append(directory + "/" + name) }
        }
        for folder in subfolders { collectUnwritableFolders(folder, into: &found) }
    }
}
