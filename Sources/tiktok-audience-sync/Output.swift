import Glibc

/// Plain writes to stdout and stderr (no buffering surprises when the process is killed).
enum FileHandleOutput {
    static func standardOutput(_ text: String) { writeAll(STDOUT_FILENO, text) }
    static func standardError(_ text: String) { writeAll(STDERR_FILENO, text) }

    private static func writeAll(_ descriptor: Int32, _ text: String) {
        let bytes = Array(text.utf8)
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let written = write(descriptor, raw.baseAddress.map { $0 + offset }, raw.count - offset)
                if written < 0 && errno == EINTR { continue }
                if written <= 0 { return }
                offset += written
            }
        }
    }
}

func say(_ text: String) { FileHandleOutput.standardOutput(text + "\n") }
