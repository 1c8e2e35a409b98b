/// Checks shared by every TikTok route: JSON bodies and the shape of ids.
enum WireRules {
    /// TikTok ids (advertiser, audience) are strings of up to 19 digits.
    static let maximumIDDigits = 19

    static func isDigitID(_ value: String) -> Bool {
        !value.isEmpty && value.utf8.count <= Self.maximumIDDigits
            && value.utf8.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
    }

    static func isHexDigit(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
            || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "f"))
            || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "F"))
    }

    static func isLowercaseHexDigit(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
            || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "f"))
    }

    /// POST bodies must be declared JSON and be a JSON object.
    static func jsonObjectBody(contentType: String?, body: [UInt8]) throws(TikTokAPIError) -> JSONValue {
        guard let contentType else {
            throw .param("Content-Type header is missing; it must be application/json")
        }
        let mediaType = contentType.split(separator: ";", maxSplits: 1).first.map(String.init) ?? ""
        guard mediaType.trimmingSpaces().lowercased() == "application/json" else {
            throw .param("Content-Type must be application/json, got \"\(contentType)\"")
        }
        let value: JSONValue
        do {
            value = try JSONParser.parse(body)
        } catch {
            throw .param("request body is not valid JSON: \(error)")
        }
        guard case .object = value else {
            throw .param("request body must be a JSON object, got \(value.kindDescription)")
        }
        return value
    }

    /// A required string field.
    static func requiredString(_ value: JSONValue?, field: String) throws(TikTokAPIError) -> String {
        guard let value else { throw .param("\(field) is required") }
        guard let string = value.stringValue else {
            throw .param("\(field) must be a string, got \(value.kindDescription)")
        }
        return string
    }

    /// A required id: a string of 1 to 19 digits (a number is an error, as at TikTok).
    static func requiredDigitID(_ value: JSONValue?, field: String) throws(TikTokAPIError) -> String {
        guard let value else { throw .param("\(field) is required") }
        return try self.digitID(value, field: field)
    }

    static func digitID(_ value: JSONValue, field: String) throws(TikTokAPIError) -> String {
        guard let string = value.stringValue else {
            throw .param("\(field) must be a string of digits, got \(value.kindDescription)")
        }
        guard self.isDigitID(string) else {
            throw .param("\(field) must be a string of 1 to \(Self.maximumIDDigits) digits, got \"\(string)\"")
        }
        return string
    }

    /// A query-string id: present and 1 to 19 digits.
    static func queryDigitID(_ value: String?, field: String) throws(TikTokAPIError) -> String {
        guard let value, !value.isEmpty else { throw .param("\(field) is required") }
        guard self.isDigitID(value) else {
            throw .param("\(field) must be 1 to \(Self.maximumIDDigits) digits, got \"\(value)\"")
        }
        return value
    }
}
