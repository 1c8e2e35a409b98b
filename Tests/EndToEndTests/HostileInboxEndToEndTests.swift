import Foundation
import Testing
import TestFixtures
import TikTokEmulator

/// The built binary's `once` on an inbox full of things that are not audience files, or not files
/// at all, beside valid ones: it must finish (a FIFO or device is never opened, so nothing blocks),
/// never follow a symlink, move every hostile entry to `rejected/` with a reason that says what
/// is wrong, apply nothing from a rejected file, and still apply the valid files exactly.
@Suite("once: a hostile inbox", .serialized)
struct HostileInboxEndToEndTests {
    let people = (0..<60).map { sha256Hex("hostile\($0)@example.com") }

    func snapshot(_ segment: String, _ members: ArraySlice<String>) -> String {
        "email_hash,segment_id\n" + members.map { "\($0),\(segment)" }.joined(separator: "\n") + "\n"
    }

    @Test("symlinks, a FIFO, a device, a socket, a directory named y.csv and broken files beside valid ones")
    func hostileInbox() async throws {
        try await TikTokEmulator.withRunning { emulator in
            let workspace = try Workspace(emulator: emulator, extraYAML: "max_decompressed_bytes: 1048576")
            let inbox = workspace.inbox
            let outside = workspace.root + "/outside"
            try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)

            // Valid files: they must apply exactly.
            // Valid files are deltas here: several snapshots of one segment would replace each other.
            func adds(_ segment: String, _ members: ArraySlice<String>) -> String {
                "email_hash,segment_id,action\n" + members.map { "\($0),\(segment),add\n" }.joined()
            }
            try workspace.drop("good/snapshot.csv", adds("123456", people[0..<10]), age: 500)
            try workspace.drop(
                "good/delta.csv.gz",
                bytes: gzip("segment_id,action,email_hash\n" + people[10..<13].map { "654321,add,\($0)\n" }.joined()), age: 490)
            try workspace.drop("inside-target.csv", adds("123456", people[20..<23]), age: 480)
            let wideHeader = (0..<5000).map { $0 == 0 ? "segment_id" : $0 == 1 ? "action" : $0 == 4999 ? "email_hash" : "extra\($0)" }.joined(separator: ",")
            let wideRow = (0..<5000).map { $0 == 0 ? "123456" : $0 == 1 ? "add" : $0 == 4999 ? people[45] : "" }.joined(separator: ",")
            try workspace.drop("wide-5000-columns.csv", wideHeader + "\n" + wideRow + "\n", age: 470)
            // A directory named like a file is a folder: what is inside it is read like any file.
            try workspace.drop("y.csv/inner.csv", adds("654321", people[40..<42]), age: 460)
            // A header and nothing else is a snapshot naming no segment: read, and it changes nothing.
            try workspace.drop("header-only.csv", "email_hash,segment_id\n", age: 450)

            // Hostile entries, each with a word its reason must contain.
            var hostile: [(name: String, keyword: String)] = []
            func drop(_ name: String, _ bytes: [UInt8], _ keyword: String) throws {
                try workspace.drop(name, bytes: bytes, age: 400 - Double(hostile.count))
                hostile.append((name, keyword))
            }
            try drop("empty.csv", [], "empty")
            try drop("no-identifier.csv", Array("name,segment_id\nbob,123456\n".utf8), "no identifier column")
            try drop("no-segment.csv", Array("email_hash,name\n\(people[50]),bob\n".utf8), "segment_id")
            try drop("garbage.csv", (0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 7) } + [0x0A], "NUL")
            try drop("nul-bytes.csv", Array("email_hash,segment_id\n\(people[51]),123456\n".utf8) + [0x00, 0x0A], "NUL")
            try drop("latin1.csv", Array("email_hash,segment_id,name\n\(people[52]),123456,Jos".utf8) + [0xE9, 0x0A], "UTF-8")
            try drop("long-line.csv", Array(("email_hash,segment_id\n" + String(repeating: "a", count: 1 << 20) + ",123456\n").utf8), "longer than")
            try drop("duplicate-header.csv", Array("email_hash,segment_id,Email_Hash\n\(people[53]),123456,x\n".utf8), "twice")
            try drop("unclosed-quote.csv", Array("email_hash,segment_id\n\(people[54]),123456\n\"\(people[55]),123456\n".utf8), "never closes")
            let cut = gzip(snapshot("123456", people[56..<58]) + (0..<3000).map { "\(sha256Hex("cut\($0)")),123456\n" }.joined())
            try drop("truncated.csv.gz", Array(cut.prefix(cut.count * 2 / 3)), "trailer")
            let bombMember = gzip(String(repeating: "\(people[58]),123456\n", count: 20_000))
            try drop("bomb.csv.gz", gzip("email_hash,segment_id\n") + Array((0..<100).map { _ in bombMember }.joined()), "gzip bomb")
            try drop("corrupt.csv.gz", Array(gzip(snapshot("123456", people[59..<60])).prefix(10)) + [UInt8](repeating: 0x55, count: 200), "gzip")
            try drop("fake.csv.gz", Array(snapshot("123456", people[59..<60]).utf8), "not gzip")
            // Valid rows for more than the reader's 1 MiB buffer, then a NUL: rejected, and the rows
            // read before the NUL was seen must not reach TikTok.
            let late = (0..<20_000).map { sha256Hex("late\($0)") }
            try drop("late-nul.csv", Array(("email_hash,segment_id\n" + late.map { "\($0),654321\n" }.joined()).utf8) + [0x00, 0x0A], "NUL")

            // Not regular files. The FIFO, device and socket have no content; what would matter is opening them.
            let fifo = inbox + "/x.csv"
            #expect(mkfifo(fifo, 0o666) == 0)
            hostile.append(("x.csv", "not a regular file"))
            let device = inbox + "/device.csv"
            let haveDevice = mknod(device, S_IFCHR | 0o666, dev_t((1 << 8) | 3)) == 0  // like /dev/null
            if haveDevice { hostile.append(("device.csv", "not a regular file")) } else { print("mknod not permitted: no device case") }
            let socketPath = inbox + "/socket.csv"
            if bindUnixSocket(at: socketPath) { hostile.append(("socket.csv", "not a regular file")) }
            // Symlinks: to a valid file inside the inbox, to one outside it, to a folder outside it
            // (which must not be walked as a partner folder), and one that dangles.
            let secret = outside + "/secret.csv"
            try snapshot("123456", people[30..<35]).write(toFile: secret, atomically: false, encoding: .utf8)
            try FileManager.default.createSymbolicLink(atPath: inbox + "/link-inside.csv", withDestinationPath: "inside-target.csv")
            try FileManager.default.createSymbolicLink(atPath: inbox + "/link-outside.csv", withDestinationPath: secret)
            try FileManager.default.createSymbolicLink(atPath: inbox + "/linked-partner", withDestinationPath: outside)
            try FileManager.default.createSymbolicLink(atPath: inbox + "/dangling.csv", withDestinationPath: outside + "/missing.csv")
            for name in ["link-inside.csv", "link-outside.csv", "linked-partner", "dangling.csv"] {
                hostile.append((name, "symbolic link"))
            }
            let watcher = try OpenWatcher(paths: [fifo, device, socketPath, secret, outside])

            let command = try RunningCommand(
                ["once", "--config", workspace.configPath], environment: ["TIKTOK_ACCESS_TOKEN": "emulator-token"])
            let watchdog = Task {
                try await Task.sleep(for: .seconds(60))
                command.signal(SIGKILL)
            }
            let result = await command.wait()
            watchdog.cancel()
            let hung = (try? await watchdog.value) != nil
            #expect(!hung, "once did not finish within 60 s and was killed: \(result.output)")

            #expect(result.status == 65, "files were rejected: \(result.output)")
            #expect(watcher.openedPaths().isEmpty, "opened: \(watcher.openedPaths()); nothing that is not a regular file in the inbox may be opened, nor anything a link points to")

            // Every hostile entry is in rejected/ with a reason that says what is wrong.
            let rejected = workspace.root + "/state/rejected"
            for (name, keyword) in hostile {
                var info = stat()
                #expect(lstat(rejected + "/" + name, &info) == 0, "\(name) is not in rejected/; output: \(result.output)")
                #expect(lstat(inbox + "/" + name, &info) != 0, "\(name) is still in the inbox")
                let reason = (try? String(contentsOfFile: rejected + "/" + name + ".reason.txt", encoding: .utf8)) ?? ""
                #expect(reason.contains(keyword), "\(name): the reason \"\(reason)\" does not say \(keyword)")
            }
            // The FIFO is still a FIFO, moved as it was; the symlinks were moved as links.
            var info = stat()
            #expect(lstat(rejected + "/x.csv", &info) == 0 && (info.st_mode & S_IFMT) == S_IFIFO)
            #expect(lstat(rejected + "/link-outside.csv", &info) == 0 && (info.st_mode & S_IFMT) == S_IFLNK)
            #expect(FileManager.default.fileExists(atPath: secret), "the target outside the inbox is untouched")

            // Valid files applied; nothing from a rejected file or a link's target reached TikTok.
            let segment123 = Set(await emulator.state.members(of: "123456").map(\.id))
            let segment654 = Set(await emulator.state.members(of: "654321").map(\.id))
            #expect(segment123 == Set(people[0..<10]).union(people[20..<23]).union([people[45]]), "123456")
            #expect(segment654 == Set(people[10..<13]).union(people[40..<42]), "654321")
            #expect(segment123.isDisjoint(with: people[30..<35]), "the members of a file outside the inbox were sent")
            #expect(segment654.isDisjoint(with: late.prefix(100)), "rows of a rejected file were sent")
            let archived = workspace.files(under: "state/archive")
            for name in ["good/snapshot.csv", "good/delta.csv.gz", "inside-target.csv", "wide-5000-columns.csv", "y.csv/inner.csv", "header-only.csv"] {
                #expect(archived.contains { $0.hasPrefix(name) }, "\(name) was not archived: \(archived)")
            }
            #expect(workspace.files(under: "inbox").isEmpty, "left in the inbox: \(workspace.files(under: "inbox"))")
        }
    }
}
