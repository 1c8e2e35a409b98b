import Foundation

/// JSON for people and for tools: pretty-printed, keys sorted, slashes as they are, and empty
/// arrays and objects as `[]` and `{}` (Foundation on Linux prints them over three lines, with an
/// empty line inside, which reads as something left out).
package enum PrettyJSON {
    package static func encode(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return tidy(String(decoding: try encoder.encode(value), as: UTF8.self))
    }

    /// Collapses `[` or `{`, then only whitespace, then `]` or `}`, outside strings.
    package static func tidy(_ text: String) -> String {
        var output = ""
        output.reserveCapacity(text.utf8.count)
        var pending = ""  // an opener and the whitespace after it, not written yet
        var opener: Character?
        var inString = false
        var escaped = false
        for character in text {
            if inString {
                output.append(character)
                if escaped {
                    escaped = false
                } else if character == "\\" {
                    escaped = true
                } else if character == "\"" {
                    inString = false
                }
                continue
            }
            if let open = opener {
                if character.isWhitespace {
                    pending.append(character)
                    continue
                }
                if (open == "[" && character == "]") || (open == "{" && character == "}") {
                    output.append(open)
                    output.append(character)
                    opener = nil
                    pending = ""
                    continue
                }
                output += pending
                opener = nil
                pending = ""
            }
            if character == "[" || character == "{" {
                opener = character
                pending = String(character)
                continue
            }
            if character == "\"" { inString = true }
            output.append(character)
        }
        output += pending
        return output
    }
}
