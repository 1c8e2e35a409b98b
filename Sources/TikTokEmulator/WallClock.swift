#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Wall-clock time for the few answers that carry it (`create_time`, `request_id`).
enum WallClock {
    static func secondsSince1970() -> Int {
        Int(Date().timeIntervalSince1970)
    }
}
