import Glibc
import Logging
import Synchronization

/// Writes one event per line to stderr in the form journald keeps well: an sd-daemon priority
/// prefix (`<6>`), the message, then stable `key=value` fields. On a terminal the prefix becomes
/// a level word. Every line passes through the redactor, so a token can never be printed.
public struct JournalLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    private let label: String
    private let journalPrefixes: Bool
    private let redactor: Redactor

    public init(label: String, level: Logger.Level, redactor: Redactor, journalPrefixes: Bool? = nil) {
        self.label = label
        logLevel = level
        self.redactor = redactor
        self.journalPrefixes = journalPrefixes ?? (isatty(STDERR_FILENO) == 0)
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var line = journalPrefixes ? "<\(Self.priority(event.level))>" : "\(event.level.rawValue.uppercased()) "
        line += event.message.description.replacingNewlines()
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        for key in merged.keys.sorted() {
            guard let value = merged[key] else { continue }
            line += " \(key)=\(Self.quoted("\(value)"))"
        }
        line = redactor.redact(line) + "\n"
        var bytes = Array(line.utf8)
        bytes.withUnsafeMutableBytes { raw in
            var offset = 0
            while offset < raw.count {
                let written = write(STDERR_FILENO, raw.baseAddress.map { $0 + offset }, raw.count - offset)
                if written <= 0 { if errno == EINTR { continue } else { return } }
                offset += written
            }
        }
    }

    static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }

    static func quoted(_ value: String) -> String {
        let flat = value.replacingNewlines()
        if flat.isEmpty { return "\"\"" }
        guard flat.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" }) else { return flat }
        return "\"" + flat.replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}

/// Scrubs known secrets from text that is about to leave the process.
public final class Redactor: Sendable {
    private let secrets = Mutex<[String]>([])

    public init() {}

    public func add(_ secret: String) {
        guard secret.count >= 4 else { return }
        secrets.withLock { $0.append(secret) }
    }

    public func redact(_ text: String) -> String {
        secrets.withLock { list in
            list.reduce(text) { $0.replacingOccurrences(of: $1, with: "<redacted token>") }
        }
    }
}

extension String {
    package func replacingNewlines() -> String {
        guard contains(where: \.isNewline) else { return self }
        return split(whereSeparator: \.isNewline).joined(separator: " ")
    }
}
