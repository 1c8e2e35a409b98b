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
        self.init(uid: info.st_uid, groupWithoutEntry: info.st_gid)
    }

    /// The user `uid` with its name and group from the user database; without an entry there,
    /// no name and `groupWithoutEntry`.
    init(uid: uid_t, groupWithoutEntry: gid_t) {
        self.uid = uid
        if let entry = getpwuid(uid) {
            name = String(cString: entry.pointee.pw_name)
            gid = entry.pointee.pw_gid
        } else {
            name = nil
            gid = groupWithoutEntry
        }
    }

    /// The user this process runs as.
    static var current: StateOwner { StateOwner(uid: geteuid(), groupWithoutEntry: getegid()) }

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
        guard found.count < 5, let entries = FolderEntries.read(directory) else { return }
        if access(directory, W_OK | X_OK) != 0 { found.append(directory) }
        for entry in entries where entry.isFolder {
            collectUnwritableFolders(directory + "/" + entry.name, into: &found)
        }
    }
}
