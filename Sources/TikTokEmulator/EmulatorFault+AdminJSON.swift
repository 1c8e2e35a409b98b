extension EmulatorFault {
    /// Why an admin fault description was not understood.
    public struct AdminJSONError: Error {
        public let reason: String
    }

    static let adminJSONForms =
        "{\"code\":40100[,\"message\":\"...\"][,\"http_status\":400]}, {\"gateway_status\":503}, "
        + "{\"apply_then_fail\":504}, {\"apply_then_drop\":true}, {\"delay_ms\":2000} or {\"land_late_ms\":1500[,\"http_status\":504]}"

    /// Reads one fault as `POST /_emulator/faults` spells it.
    init(adminJSON value: JSONValue) throws(AdminJSONError) {
        guard let members = value.objectValue else {
            throw AdminJSONError(reason: "expected an object: \(Self.adminJSONForms)")
        }
        func integer(_ key: String) throws(AdminJSONError) -> Int? {
            guard let field = value[key] else { return nil }
            guard let number = field.intValue else {
                throw AdminJSONError(reason: "\(key) must be an integer, got \(field.kindDescription)")
            }
            return number
        }
        func status(_ key: String) throws(AdminJSONError) -> Int? {
            guard let number = try integer(key) else { return nil }
            guard (100...599).contains(number) else {
                throw AdminJSONError(reason: "\(key) must be an HTTP status from 100 to 599, got \(number)")
            }
            return number
        }
        let kinds = ["code", "gateway_status", "apply_then_fail", "apply_then_drop", "delay_ms", "land_late_ms"]
        let present = members.map(\.key).filter(kinds.contains)
        guard present.count == 1 else {
            throw AdminJSONError(reason: "give exactly one of \(kinds.joined(separator: ", ")): \(Self.adminJSONForms)")
        }
        if let code = try integer("code") {
            let message = value["message"]?.stringValue ?? "Emulated error \(code)"
            self = .code(code, message: message, httpStatus: try status("http_status") ?? 200)
        } else if let gatewayStatus = try status("gateway_status") {
            self = .gatewayError(status: gatewayStatus)
        } else if let failStatus = try status("apply_then_fail") {
            self = .applyThenFail(status: failStatus)
        } else if let milliseconds = try integer("land_late_ms") {
            guard milliseconds >= 0 else { throw AdminJSONError(reason: "land_late_ms must not be negative") }
            self = .landLate(after: .milliseconds(milliseconds), status: try status("http_status") ?? 504)
        } else if let milliseconds = try integer("delay_ms") {
            guard milliseconds >= 0 else { throw AdminJSONError(reason: "delay_ms must not be negative") }
            self = .delay(.milliseconds(milliseconds))
        } else {
            guard case .bool(true) = value["apply_then_drop"] else {
                throw AdminJSONError(reason: "apply_then_drop must be true")
            }
            self = .applyThenDropConnection
        }
    }
}
