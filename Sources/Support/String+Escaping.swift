extension String {
    /// The text with every control character written as an escape (`\n`, `\t`, `\x1b`, `\u{85}`),
    /// for names that come from outside (file names are partners'): a name with a newline or an
    /// escape sequence can then never forge a journal line or repaint a terminal.
    public var escapingControlCharacters: String {
        guard unicodeScalars.contains(where: \.properties.generalCategory.isControl) else { return self }
        var result = ""
        for scalar in unicodeScalars {
            switch scalar {
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case _ where scalar.properties.generalCategory.isControl:
                result += scalar.value < 0x100
                    ? "\\x" + String(scalar.value, radix: 16, uppercase: false).leftPadded(to: 2)
                    : "\\u{" + String(scalar.value, radix: 16) + "}"
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    private func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}

extension Unicode.GeneralCategory {
    var isControl: Bool { self == .control || self == .lineSeparator || self == .paragraphSeparator }
}
