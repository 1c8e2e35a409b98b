import Foundation
import AudienceSupport

/// Finds the access token: `TIKTOK_ACCESS_TOKEN`, then the systemd credential
/// `tiktok-access-token` (`$CREDENTIALS_DIRECTORY`), then `tiktok.access_token_file`.
public enum TokenSource {
    public static let credentialName = "tiktok-access-token"

    /// The token and where it came from ("environment", "credential", "file"), or nil when none is set.
    public static func resolve(
        configuration: Configuration, environment: [String: String]
    ) throws -> (token: AccessToken, origin: String)? {
        if let value = environment["TIKTOK_ACCESS_TOKEN"], let token = AccessToken(value) {
            return (token, "environment TIKTOK_ACCESS_TOKEN")
        }
        if let directory = environment["CREDENTIALS_DIRECTORY"] {
            let path = directory + "/" + credentialName
            if let value = try? String(contentsOfFile: path, encoding: .utf8), let token = AccessToken(value) {
                return (token, "systemd credential \(credentialName)")
            }
        }
        if let path = configuration.tiktok.accessTokenFile {
            guard let value = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw ConfigurationError(
                    file: configuration.source, key: "tiktok.access_token_file",
                    "cannot read \(path); create it (tiktok-audience-sync auth) or fix the path")
            }
            guard let token = AccessToken(value) else {
                throw ConfigurationError(file: configuration.source, key: "tiktok.access_token_file", "\(path) is empty")
            }
            return (token, "file \(path)")
        }
        return nil
    }
}

extension TokenSource {
    /// What is wrong with the token file's permissions, if anything: a token readable by other
    /// users of the machine can act for the advertiser.
    public static func exposure(configuration: Configuration) -> String? {
        guard let path = configuration.tiktok.accessTokenFile,
            let attributes = try? FileManager.default.attributesOfItem(atPath: path),
            let mode = (attributes[.posixPermissions] as? NSNumber)?.intValue, mode & 0o077 != 0
        else { return nil }
        return "the token file \(path) can be read by other users (mode \(String(mode, radix: 8))); run: chmod 600 \(path)"
    }
}

/// Saves a token where `tiktok.access_token_file` (or the operator) says, readable by its owner only.
public enum TokenStore {
    public static func save(_ secret: String, to path: String) throws {
        if let (reason, _) = AtomicFile.write(Array((secret + "\n").utf8), to: path, mode: 0o600) {
            throw ConfigurationError(file: path, key: "tiktok.access_token_file", "cannot write \(path): \(reason)")
        }
        // Saved by root into a folder another user owns (the state directory): the file is that
        // user's, or the daemon, running as it, could not read its own token.
        var folder = stat()
        let parent = (path as NSString).deletingLastPathComponent
        // Not following a symlink: the folder's owner could swap the file for one meanwhile.
        if geteuid() == 0, stat(parent.isEmpty ? "." : parent, &folder) == 0, folder.st_uid != 0,
            fchownat(AT_FDCWD, path, folder.st_uid, folder.st_gid, AT_SYMLINK_NOFOLLOW) != 0
        {
            throw ConfigurationError(
                file: path, key: "tiktok.access_token_file", "cannot give \(path) to the owner of \(parent): \(String(cString: strerror(errno)))")
        }
    }
}
