import Foundation
import Testing
import TestFixtures
@testable import AudienceModel
@testable import AudienceReading
import AudienceModel
import AudienceReading

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


/// Reads a file and returns (summary, changes as (segment, member hex, action)).
func readAll(_ path: String, options: ReadingOptions = .init()) throws -> (ReadSummary, [(String, IdentifierType, String, MembershipAction)]) {
    let reader = try AudienceFileReader(path: path, options: options)
    var changes: [(String, IdentifierType, String, MembershipAction)] = []
    let summary = try reader.read { change in
        changes.append((reader.segments[Int(change.segment)].rawValue, change.member.type, change.member.sentHex, change.action))
    }
    return (summary, changes)
}

func gzipped(_ text: String) throws -> [UInt8] { gzip(text) }
