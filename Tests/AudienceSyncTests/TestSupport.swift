import Foundation
import Testing
import Crypto
@testable import AudienceSync

/// A fresh folder under the system temp directory, removed at the end of the test.
final class TemporaryDirectory {
    let path: String

    init() throws {
        let template = NSTemporaryDirectory() + "audience-sync-test-XXXXXX"
        var bytes = Array(template.utf8CString)
        guard let made = mkdtemp(&bytes) else { throw CocoaError(.fileWriteUnknown) }
        path = String(cString: made)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    @discardableResult
    func write(_ name: String, _ text: String) throws -> String {
        try write(name, bytes: Array(text.utf8))
    }

    @discardableResult
    func write(_ name: String, bytes: [UInt8]) throws -> String {
        let full = path + "/" + name
        try FileManager.default.createDirectory(
            atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(bytes).write(to: URL(fileURLWithPath: full))
        return full
    }
}

func sha256Hex(_ text: String) -> String {
    SHA256.hash(data: Array(text.utf8)).map { String(format: "%02x", $0) }.joined()
}

/// Reads a file and returns (summary, changes as (segment, member hex, action)).
func readAll(_ path: String, options: ReadingOptions = .init()) throws -> (ReadSummary, [(String, IdentifierType, String, MembershipAction)]) {
    let reader = try AudienceFileReader(path: path, options: options)
    var changes: [(String, IdentifierType, String, MembershipAction)] = []
    let summary = try reader.read { change in
        changes.append((reader.segments[Int(change.segment)].rawValue, change.member.type, change.member.digest.hex, change.action))
    }
    return (summary, changes)
}

func gzipped(_ text: String) throws -> [UInt8] {
    let directory = try TemporaryDirectory()
    let path = try directory.write("plain", text)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/gzip")
    process.arguments = ["-n", "-k", path]
    try process.run()
    process.waitUntilExit()
    return Array(try Data(contentsOf: URL(fileURLWithPath: path + ".gz")))
}

/// A small deterministic generator (SplitMix64), so that every run tests the same corpus.
struct SeededRandom: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var value = state
        value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
        value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
        return value ^ (value >> 31)
    }
}
