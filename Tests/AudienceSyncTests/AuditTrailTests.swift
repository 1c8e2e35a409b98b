import Logging
import Testing
@testable import AudienceSupport

@Suite("The audit trail in the journal")
struct AuditTrailTests {
    @Test("each metadata key becomes a journal field a journalctl match finds (PARTNER=acme), redacted, never one of journald's own")
    func journalFields() {
        let redactor = Redactor()
        redactor.add("secret-token-123")
        let fields = JournalLogHandler.journalFields(
            message: "TikTok confirmed +3 -1 for segment 123456 partner=acme", level: .info,
            metadata: [
                "partner": "acme,globex", "segment": "123456", "error": "token secret-token-123 refused\nagain",
                "message": "must not replace MESSAGE", "_pid": "1", "2fa": "x", "request-id": "r1",
            ],
            redactor: redactor)
        let byName = Dictionary(fields.map { ($0.name, $0.value) }, uniquingKeysWith: { first, _ in first })
        #expect(byName["MESSAGE"] == "TikTok confirmed +3 -1 for segment 123456 partner=acme")
        #expect(byName["PRIORITY"] == "6")
        #expect(byName["SYSLOG_IDENTIFIER"] == "tiktok-audience-sync")
        #expect(byName["PARTNER"] == "acme,globex")
        #expect(byName["SEGMENT"] == "123456")
        #expect(byName["REQUEST_ID"] == "r1")
        #expect(byName["ERROR"] == "token <redacted token> refused again", "redacted, one line")
        #expect(fields.filter { $0.name == "MESSAGE" }.count == 1, "a metadata key never takes over MESSAGE")
        #expect(fields.allSatisfy { !$0.name.hasPrefix("_") && $0.name.first?.isNumber == false }, "journald refuses such names")
    }
}
