import Foundation
import TestFixtures
import TikTokEmulator

/// One randomized history for the model test: audience files over a pool of members in four
/// segments, some dropped while a process runs; runs of `once` and of the daemon with TikTok
/// faults queued and a stop at a random moment or at a marked point inside the code; and the
/// oracle: the membership the files say, applied in arrival order. Pure: generating a history
/// and computing its oracle do no I/O, so a seed always gives the same history.
///
/// Sized so that every path of the sending code runs: pools of thousands of members (and of a
/// couple of dozen, where every file touches the same members), requests of tens to hundreds of
/// identifiers so that a pass makes many and several are in flight, confirmations settled by key
/// range and row by row, and files planned while requests for their members are in flight.
struct ModelHistory {
    static let segments = ["123456", "654321", "111111", "222222"]

    struct AudienceFile {
        var name: String
        var text: String
        /// Snapshot: the complete membership of each segment it names. Delta: adds and removes.
        var isSnapshot: Bool
    }

    /// How a process ends.
    enum Stop: CustomStringConvertible {
        /// `once` runs to its end; the daemon is stopped by SIGTERM after the last drop.
        case none
        case sigkill(afterMilliseconds: Int)
        case sigterm(afterMilliseconds: Int)
        /// SIGKILL from inside, the `passes`-th time the process passes the point
        /// (`TIKTOK_AUDIENCE_SYNC_KILL_AT`); a daemon that never gets there is stopped by SIGTERM.
        case killAt(point: String, passes: Int)

        var description: String {
            switch self {
            case .none: "no signal"
            case .sigkill(let ms): "SIGKILL after \(ms) ms"
            case .sigterm(let ms): "SIGTERM after \(ms) ms"
            case .killAt(let point, let passes): "killed at \(point), pass \(passes)"
            }
        }
    }

    enum Fault: CustomStringConvertible {
        case code(Int), gateway(Int), applyThenFail, applyThenDrop, slowerThanTimeout, landLate

        var emulatorFault: EmulatorFault {
            switch self {
            case .code(let code): .code(code, message: "emulated \(code)")
            case .gateway(let status): .gatewayError(status: status)
            case .applyThenFail: .applyThenFail(status: 504)
            case .applyThenDrop: .applyThenDropConnection
            // The client gives up after request_timeout_seconds (1 s); TikTok applies it anyway,
            // before the resend (2 s after the client gave up, or after a killed client's
            // successor started). Due 1.2 s after the emulator took the request, which leaves
            // 0.8 s for this test process to be slow in taking it on a loaded machine.
            case .slowerThanTimeout: .delay(.milliseconds(1_200))
            // Answered 504 at once, applied well after the client moved on (before the resend at 2 s).
            case .landLate: .landLate(after: .milliseconds(1_500), status: 504)
            }
        }

        var description: String {
            switch self {
            case .code(let code): "code \(code)"
            case .gateway(let status): "HTTP \(status)"
            case .applyThenFail: "applied, answer lost (504)"
            case .applyThenDrop: "applied, connection dropped"
            case .slowerThanTimeout: "applied after the client's timeout"
            case .landLate: "answered 504, applied 1.5 s later"
            }
        }
    }

    /// A file dropped while a process runs, this long after it started.
    struct Drop {
        var afterMilliseconds: Int
        var file: AudienceFile
    }

    enum Step: CustomStringConvertible {
        case drop(AudienceFile)
        case once(faults: [Fault], stop: Stop, during: [Drop])
        case run(faults: [Fault], stop: Stop, during: [Drop])

        var description: String {
            func drops(_ during: [Drop]) -> String {
                during.isEmpty ? "" : "; meanwhile " + during.map { "at \($0.afterMilliseconds) ms \(ModelHistory.describe($0.file))" }.joined(separator: ", ")
            }
            switch self {
            case .drop(let file):
                return "drop " + ModelHistory.describe(file)
            case .once(let faults, let stop, let during):
                return "once with faults [\(faults.map(\.description).joined(separator: ", "))], \(stop)" + drops(during)
            case .run(let faults, let stop, let during):
                return "run with faults [\(faults.map(\.description).joined(separator: ", "))], \(stop)" + drops(during)
            }
        }
    }

    /// The sending settings of a history: few identifiers per request and several requests in
    /// flight, so that kills find several requests out and files land among them.
    struct Sending: CustomStringConvertible {
        var maxInFlight: Int
        var usersPerRequest: Int
        var latencyMilliseconds: Int

        var description: String {
            "\(usersPerRequest) identifiers a request, up to \(maxInFlight) in flight, answers after \(latencyMilliseconds) ms"
        }
    }

    /// The points inside the code where a history may kill a process (`KillPoint` names).
    static let killPoints = [
        "after-plan-committed", "after-receipt-written", "after-file-moved", "after-in-flight-recorded", "after-answer",
        "after-confirmation",
    ]

    let seed: UInt64
    let poolSize: Int
    let sending: Sending
    private(set) var steps: [Step] = []
    /// The files in arrival order.
    private(set) var files: [AudienceFile] = []

    init(seed: UInt64) {
        self.seed = seed
        var random = SeededRandom(state: seed)
        // A small pool makes every file touch the same members; a large one makes many requests.
        poolSize = [24, 24, 400, 1_500, 3_000].randomElement(using: &random)!
        sending = Sending(
            maxInFlight: Int.random(in: 2...8, using: &random),
            usersPerRequest: poolSize <= 24 ? Int.random(in: 2...8, using: &random) : Int.random(in: 25...400, using: &random),
            latencyMilliseconds: Int.random(in: 20...90, using: &random))
        let pool = Self.pool(poolSize)
        // Most members start in: later files have members to remove.
        append(.drop(Self.delta(number: 0, pool: pool, window: 0..<poolSize, density: 0.9, adds: 1.0, using: &random)))
        for _ in 0..<Int.random(in: 6...11, using: &random) {
            let roll = Int.random(in: 0..<100, using: &random)
            if roll < 22 {
                append(.drop(nextFile(pool, using: &random)))
            } else if roll < 64 {
                let stop: Stop = switch Int.random(in: 0..<10, using: &random) {
                case 0..<3: .none
                case 3..<6: .sigkill(afterMilliseconds: Int.random(in: 0...1_500, using: &random))
                case 6: .sigterm(afterMilliseconds: Int.random(in: 0...1_500, using: &random))
                default: Self.killAt(using: &random)
                }
                let faults = Self.faults(using: &random)
                append(.once(faults: faults, stop: stop, during: nextDrops(pool, using: &random)))
            } else {
                let stop: Stop = switch Int.random(in: 0..<10, using: &random) {
                case 0..<4: .none
                case 4..<7: .sigkill(afterMilliseconds: Int.random(in: 100...2_500, using: &random))
                default: Self.killAt(using: &random)
                }
                let faults = Self.faults(using: &random)
                append(.run(faults: faults, stop: stop, during: nextDrops(pool, atLeast: 1, using: &random)))
            }
        }
    }

    /// Adds a step; a dropped file joins the arrival order (files dropped while a process runs
    /// joined it as ``nextDrops(_:atLeast:using:)`` made them).
    private mutating func append(_ step: Step) {
        steps.append(step)
        if case .drop(let file) = step { files.append(file) }
    }

    /// Up to three files (at least `minimum`) dropped while a process runs, at increasing moments.
    private mutating func nextDrops(_ pool: [PoolMember], atLeast minimum: Int = 0, using random: inout SeededRandom) -> [Drop] {
        var moment = 0
        var drops: [Drop] = []
        for _ in 0..<max(minimum, [0, 1, 1, 2, 3].randomElement(using: &random)!) {
            moment += Int.random(in: 30...700, using: &random)
            let file = nextFile(pool, using: &random)
            files.append(file)
            drops.append(Drop(afterMilliseconds: moment, file: file))
        }
        return drops
    }

    /// A delta, a snapshot, or the bytes of an earlier file again under a new name.
    private func nextFile(_ pool: [PoolMember], using random: inout SeededRandom) -> AudienceFile {
        let number = files.count
        let roll = Int.random(in: 0..<100, using: &random)
        if roll < 10, var again = files.randomElement(using: &random) {
            // The same bytes again: an SFTP retry, a rename, a re-export.
            again.name = String(format: "f%02d-again.csv", number)
            return again
        }
        if roll < 35 { return Self.snapshot(number: number, pool: pool, using: &random) }
        let length = Int.random(in: 1...max(1, poolSize / 2), using: &random)
        let start = Int.random(in: 0...(poolSize - length), using: &random)
        return Self.delta(
            number: number, pool: pool, window: start..<(start + length), density: Double.random(in: 0.3...1, using: &random),
            adds: 0.6, using: &random)
    }

    private static func killAt(using random: inout SeededRandom) -> Stop {
        .killAt(point: killPoints.randomElement(using: &random)!, passes: Int.random(in: 1...4, using: &random))
    }

    private static func faults(using random: inout SeededRandom) -> [Fault] {
        let choices: [Fault] = [
            .code(50002), .code(40100), .gateway(503), .applyThenFail, .applyThenDrop, .slowerThanTimeout, .landLate,
        ]
        return (0..<Int.random(in: 0...3, using: &random)).map { _ in choices.randomElement(using: &random)! }
    }

    static func describe(_ file: AudienceFile) -> String {
        "\(file.name) (\(file.isSnapshot ? "snapshot" : "delta"), \(file.text.split(separator: "\n").count - 1) rows)"
    }

    // MARK: Members and files

    /// A member of the pool: its column and value in a file, and what TikTok receives for it.
    struct PoolMember {
        var column: Int  // 0 email_hash, 1 phone_hash, 2 maid
        var value: String
        var received: EmulatorMember
        /// The segment its rows name most of the time.
        var home: String
    }

    /// Members of all three kinds: hashed emails and phones, and plain MAIDs that the daemon
    /// hashes (as IDFAs: the configuration's `identifiers.maid_type`).
    static func pool(_ size: Int) -> [PoolMember] {
        (0..<size).map { index in
            let home = segments[index % segments.count]
            switch index % 3 {
            case 0:
                let hash = sha256Hex("model-email-\(index)")
                return PoolMember(column: 0, value: hash, received: EmulatorMember(idType: "EMAIL_SHA256", id: hash), home: home)
            case 1:
                let hash = sha256Hex("model-phone-\(index)")
                return PoolMember(column: 1, value: hash, received: EmulatorMember(idType: "PHONE_SHA256", id: hash), home: home)
            default:
                let uuid = String(format: "%08x-0000-4000-8000-%012x", index, index)
                return PoolMember(column: 2, value: uuid, received: EmulatorMember(idType: "IDFA_SHA256", id: sha256Hex(uuid)), home: home)
            }
        }
    }

    private static func row(_ member: PoolMember, _ segment: String) -> String {
        var columns = ["", "", ""]
        columns[member.column] = member.value
        return columns.joined(separator: ",") + ",\(segment)"
    }

    /// A delta over a window of the pool: each member in it with probability `density`, in its
    /// home segment mostly; added with probability `adds`, else removed. Now and then a member
    /// twice (the last row wins).
    private static func delta(
        number: Int, pool: [PoolMember], window: Range<Int>, density: Double, adds: Double, using random: inout SeededRandom
    ) -> AudienceFile {
        var text = "email_hash,phone_hash,maid,segment_id,action\n"
        for index in window where Double.random(in: 0..<1, using: &random) < density {
            let member = pool[index]
            let segment = Int.random(in: 0..<4, using: &random) == 0 ? segments.randomElement(using: &random)! : member.home
            for _ in 0..<(Int.random(in: 0..<20, using: &random) == 0 ? 2 : 1) {
                let action = Double.random(in: 0..<1, using: &random) < adds ? "add" : ["remove", "delete"].randomElement(using: &random)!
                text += row(member, segment) + ",\(action)\n"
            }
        }
        if text.split(separator: "\n").count == 1 { text += row(pool[window.lowerBound], pool[window.lowerBound].home) + ",add\n" }
        return AudienceFile(name: String(format: "f%02d-delta.csv", number), text: text, isSnapshot: false)
    }

    /// A snapshot of one or two segments: for each, the members of a window of the pool.
    private static func snapshot(number: Int, pool: [PoolMember], using random: inout SeededRandom) -> AudienceFile {
        var text = "email_hash,phone_hash,maid,segment_id\n"
        for segment in segments.shuffled(using: &random).prefix(Int.random(in: 1...2, using: &random)) {
            let length = Int.random(in: 1...pool.count, using: &random)
            let start = Int.random(in: 0...(pool.count - length), using: &random)
            let density = Double.random(in: 0.4...1, using: &random)
            var rows = (start..<(start + length)).filter { _ in Double.random(in: 0..<1, using: &random) < density }
            // At least one member: a segment a snapshot names with no valid row is not emptied.
            if rows.isEmpty { rows = [start] }
            for index in rows { text += row(pool[index], segment) + "\n" }
        }
        return AudienceFile(name: String(format: "f%02d-snapshot.csv", number), text: text, isSnapshot: true)
    }

    /// What each file, in arrival order, says of `member` in `segment`: `add`, `remove` or
    /// `delete` for a delta's rows, `in` or `out` for a snapshot of the segment (a delta whose
    /// bytes came before is marked as not applied).
    func mentions(of member: EmulatorMember, in segment: String) -> [String] {
        let pool = Self.pool(poolSize)
        guard let value = pool.first(where: { $0.received == member })?.value else { return [] }
        var seenDeltas: Set<String> = []
        var mentions: [String] = []
        for file in files {
            let rows = file.text.split(separator: "\n").dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
            if file.isSnapshot {
                guard rows.contains(where: { $0[3] == segment }) else { continue }
                let isIn = rows.contains { $0[3] == segment && $0[0] + $0[1] + $0[2] == value }
                mentions.append("\(file.name): \(isIn ? "in" : "out")")
            } else {
                let repeated = !seenDeltas.insert(file.text).inserted
                let actions = rows.filter { $0[3] == segment && $0[0] + $0[1] + $0[2] == value }.map { $0[4] }
                if !actions.isEmpty {
                    mentions.append("\(file.name): \(actions.joined(separator: ", "))\(repeated ? " (bytes seen before: not applied)" : "")")
                }
            }
        }
        return mentions
    }

    /// What TikTok must hold once everything is sent: the files applied in arrival order. A
    /// delta whose bytes arrived before is not applied again; a snapshot is the complete
    /// membership of its segments whenever it arrives (applying the same one twice in a row
    /// changes nothing, which is what a duplicate must do).
    var oracle: [String: Set<EmulatorMember>] {
        let pool = Self.pool(poolSize)
        var byValue: [String: EmulatorMember] = [:]
        for member in pool { byValue[member.value] = member.received }
        var membership: [String: Set<EmulatorMember>] = [:]
        var seenDeltas: Set<String> = []
        for file in files {
            let rows = file.text.split(separator: "\n").dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
            func member(_ fields: [String]) -> EmulatorMember {
                guard let received = byValue[fields[0] + fields[1] + fields[2]] else { preconditionFailure("a row of no pool member") }
                return received
            }
            if file.isSnapshot {
                var replacement: [String: Set<EmulatorMember>] = [:]
                for fields in rows { replacement[fields[3], default: []].insert(member(fields)) }
                for (segment, members) in replacement { membership[segment] = members }
            } else {
                guard seenDeltas.insert(file.text).inserted else { continue }
                for fields in rows {
                    if fields[4] == "add" {
                        membership[fields[3], default: []].insert(member(fields))
                    } else {
                        membership[fields[3], default: []].remove(member(fields))
                    }
                }
            }
        }
        return membership
    }
}
