import Foundation
import TestFixtures
import TikTokEmulator

/// One randomized history for the model test: audience files over a small pool of members in a
/// few segments, runs of `once` with TikTok faults queued and a kill at a random moment, and the
/// oracle: the membership the files say, applied in arrival order. Pure: generating a history
/// and computing its oracle do no I/O, so a seed always gives the same history.
struct ModelHistory {
    static let segments = ["123456", "654321", "111111"]

    struct AudienceFile {
        var name: String
        var text: String
        /// Snapshot: the complete membership of each segment it names. Delta: adds and removes.
        var isSnapshot: Bool
    }

    enum Kill: CustomStringConvertible {
        case none
        case sigkill(afterMilliseconds: Int)
        case sigterm(afterMilliseconds: Int)

        var description: String {
            switch self {
            case .none: "no signal"
            case .sigkill(let ms): "SIGKILL after \(ms) ms"
            case .sigterm(let ms): "SIGTERM after \(ms) ms"
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
            // The client gives up after request_timeout_seconds (2 s); TikTok applies it anyway.
            case .slowerThanTimeout: .delay(.milliseconds(2_600))
            // Answered 504 at once, applied well after the client moved on (before the recheck at 4 s).
            case .landLate: .landLate(after: .milliseconds(3_000), status: 504)
            }
        }

        var description: String {
            switch self {
            case .code(let code): "code \(code)"
            case .gateway(let status): "HTTP \(status)"
            case .applyThenFail: "applied, answer lost (504)"
            case .applyThenDrop: "applied, connection dropped"
            case .slowerThanTimeout: "applied after the client's timeout"
            case .landLate: "answered 504, applied 3 s later"
            }
        }
    }

    enum Step: CustomStringConvertible {
        case drop(AudienceFile)
        case once(faults: [Fault], kill: Kill)
        /// The daemon, stopped after a while by SIGTERM (graceful) or SIGKILL.
        case run(faults: [Fault], stop: Kill)

        var description: String {
            switch self {
            case .drop(let file):
                "drop \(file.name) (\(file.isSnapshot ? "snapshot" : "delta"), \(file.text.split(separator: "\n").count - 1) rows)"
            case .once(let faults, let kill):
                "once with faults [\(faults.map(\.description).joined(separator: ", "))], \(kill)"
            case .run(let faults, let stop):
                "run with faults [\(faults.map(\.description).joined(separator: ", "))], \(stop)"
            }
        }
    }

    let seed: UInt64
    private(set) var steps: [Step] = []
    /// The files in arrival order.
    private(set) var files: [AudienceFile] = []

    /// The pool: a few members of two identifier types, so batches of both types and one member
    /// in several segments occur.
    static let pool: [(column: String, idType: String, hash: String)] = (0..<24).map { index in
        index % 3 == 2
            ? ("phone_hash", "PHONE_SHA256", sha256Hex("model-phone-\(index)"))
            : ("email_hash", "EMAIL_SHA256", sha256Hex("model-email-\(index)"))
    }

    init(seed: UInt64) {
        self.seed = seed
        var random = SeededRandom(state: seed)
        let length = Int.random(in: 5...11, using: &random)
        for _ in 0..<length {
            let roll = Int.random(in: 0..<100, using: &random)
            if roll < 30 {
                append(.drop(Self.delta(number: files.count, using: &random)))
            } else if roll < 45 {
                append(.drop(Self.snapshot(number: files.count, using: &random)))
            } else if roll < 52, let earlier = files.randomElement(using: &random) {
                // The same bytes again under another name: an SFTP retry, a rename, a re-export.
                var again = earlier
                again.name = String(format: "f%02d-again.csv", files.count)
                append(.drop(again))
            } else if roll < 85 {
                append(.once(faults: Self.faults(using: &random), kill: Self.kill(using: &random)))
            } else {
                let stop: Kill = Bool.random(using: &random)
                    ? .sigterm(afterMilliseconds: Int.random(in: 200...2_000, using: &random))
                    : .sigkill(afterMilliseconds: Int.random(in: 100...2_000, using: &random))
                append(.run(faults: Self.faults(using: &random), stop: stop))
            }
        }
    }

    private mutating func append(_ step: Step) {
        steps.append(step)
        if case .drop(let file) = step { files.append(file) }
    }

    private static func delta(number: Int, using random: inout SeededRandom) -> AudienceFile {
        var text = "email_hash,phone_hash,segment_id,action\n"
        for _ in 0..<Int.random(in: 1...14, using: &random) {
            let member = pool.randomElement(using: &random)!
            let segment = segments.randomElement(using: &random)!
            let action = ["add", "remove", "delete", "add"].randomElement(using: &random)!
            text += row(member, segment) + ",\(action)\n"
        }
        return AudienceFile(name: String(format: "f%02d-delta.csv", number), text: text, isSnapshot: false)
    }

    private static func snapshot(number: Int, using random: inout SeededRandom) -> AudienceFile {
        var text = "email_hash,phone_hash,segment_id\n"
        let named = segments.shuffled(using: &random).prefix(Int.random(in: 1...2, using: &random))
        for segment in named {
            // At least one member: a segment a snapshot names with no valid row is not emptied.
            let members = pool.shuffled(using: &random).prefix(Int.random(in: 1...12, using: &random))
            for member in members { text += row(member, segment) + "\n" }
        }
        return AudienceFile(name: String(format: "f%02d-snapshot.csv", number), text: text, isSnapshot: true)
    }

    private static func row(_ member: (column: String, idType: String, hash: String), _ segment: String) -> String {
        member.column == "email_hash" ? "\(member.hash),,\(segment)" : ",\(member.hash),\(segment)"
    }

    private static func faults(using random: inout SeededRandom) -> [Fault] {
        let choices: [Fault] = [
            .code(50002), .code(40100), .gateway(503), .applyThenFail, .applyThenDrop, .slowerThanTimeout, .landLate,
        ]
        return (0..<Int.random(in: 0...3, using: &random)).map { _ in choices.randomElement(using: &random)! }
    }

    private static func kill(using random: inout SeededRandom) -> Kill {
        switch Int.random(in: 0..<10, using: &random) {
        case 0..<4: .none
        case 4..<8: .sigkill(afterMilliseconds: Int.random(in: 0...900, using: &random))
        default: .sigterm(afterMilliseconds: Int.random(in: 0...900, using: &random))
        }
    }

    /// What TikTok must hold once everything is sent: the files applied in arrival order. A
    /// delta whose bytes arrived before is not applied again; a snapshot is the complete
    /// membership of its segments whenever it arrives (applying the same one twice in a row
    /// changes nothing, which is what a duplicate must do).
    var oracle: [String: Set<EmulatorMember>] {
        var membership: [String: Set<EmulatorMember>] = [:]
        var seenDeltas: Set<String> = []
        for file in files {
            let rows = file.text.split(separator: "\n").dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
            func member(_ fields: [String]) -> EmulatorMember {
                fields[0].isEmpty ? EmulatorMember(idType: "PHONE_SHA256", id: fields[1]) : EmulatorMember(idType: "EMAIL_SHA256", id: fields[0])
            }
            if file.isSnapshot {
                var replacement: [String: Set<EmulatorMember>] = [:]
                for fields in rows { replacement[fields[2], default: []].insert(member(fields)) }
                for (segment, members) in replacement { membership[segment] = members }
            } else {
                guard seenDeltas.insert(file.text).inserted else { continue }
                for fields in rows {
                    if fields[3] == "add" {
                        membership[fields[2], default: []].insert(member(fields))
                    } else {
                        membership[fields[2], default: []].remove(member(fields))
                    }
                }
            }
        }
        return membership
    }
}
