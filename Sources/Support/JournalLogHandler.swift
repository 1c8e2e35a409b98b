import Glibc
import Logging
import Synchronization

/// One field of a journal entry (`PARTNER=acme`).
public struct JournalField: Sendable, Equatable {
    public var name: String
    public var value: String

    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// Hands one entry to journald; false when it did not take it.
public typealias JournalSink = @Sendable ([JournalField]) -> Bool

/// Writes one event per line to stderr in the form journald keeps well: an sd-daemon priority
/// prefix (`<6>`), the message, then stable `key=value` fields. On a terminal the prefix becomes
/// a level word. Every line passes through the redactor, so a token can never be printed.
public struct JournalLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    private let label: String
    private let journalPrefixes: Bool
    private let redactor: Redactor
    /// Sends an entry to journald as fields; false when it did not take it. Nil: stderr only.
    private let native: JournalSink?

    public init(
        label: String, level: Logger.Level, redactor: Redactor, journalPrefixes: Bool? = nil,
        native: JournalSink? = nil
    ) {
        self.label = label
        logLevel = level
        self.redactor = redactor
        self.journalPrefixes = journalPrefixes ?? (isatty(STDERR_FILENO) == 0)
        self.native = native
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var text = event.message.description.replacingNewlines()
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        for key in merged.keys.sorted() {
            guard let value = merged[key] else { continue }
            text += " \(key)=\(Self.quoted("\(value)"))"
        }
        if let native, native(Self.journalFields(message: text, level: event.level, metadata: merged, redactor: redactor)) {
            return
        }
        let prefix = journalPrefixes ? "<\(Self.priority(event.level))>" : "\(event.level.rawValue.uppercased()) "
        let line = redactor.redact(prefix + text) + "\n"
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

    /// The fields of one journal entry: the line as MESSAGE (as on stderr), the priority, and each
    /// metadata key as a field of its own, upper-cased (`partner` → `PARTNER`), all redacted.
    package static func journalFields(
        message: String, level: Logger.Level, metadata: Logger.Metadata, redactor: Redactor
    ) -> [JournalField] {
        var fields = [
            JournalField("MESSAGE", redactor.redact(message)), JournalField("PRIORITY", "\(priority(level))"),
            JournalField("SYSLOG_IDENTIFIER", "tiktok-audience-sync"),
        ]
        for key in metadata.keys.sorted() {
            guard let value = metadata[key] else { continue }
            // journald takes A-Z, 0-9 and _, not first _ or a digit, at most 64 characters.
            let name = String(key.uppercased().map { ($0.isASCII && ($0.isLetter || $0.isNumber)) ? $0 : "_" })
                .drop { $0 == "_" || $0.isNumber }.prefix(64)
            // Names journald keeps for itself, or its own fields, are not taken over.
            guard !name.isEmpty, !["MESSAGE", "PRIORITY", "SYSLOG_IDENTIFIER", "CODE_FILE", "CODE_LINE", "CODE_FUNC"].contains(String(name))
            else { continue }
            fields.append(JournalField(String(name), redactor.redact("\(value)".replacingNewlines())))
        }
        return fields
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
