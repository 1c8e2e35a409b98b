import Testing
@testable import AudienceSupport

@Suite("JSON for people and tools")
struct PrettyJSONTests {
    struct Document: Encodable {
        var empty: [Int] = []
        var none: [String: Int] = [:]
        var nested: [[Int]] = [[]]
        var text = "a [ ] and { } inside a string, and \\\" [\n] too"
        var full = [1]
    }

    @Test("empty arrays and objects print as [] and {}, strings are left as they are")
    func emptyCollections() throws {
        let text = try PrettyJSON.encode(Document())
        #expect(text.contains("\"empty\" : []"), "\(text)")
        #expect(text.contains("\"none\" : {}"), "\(text)")
        #expect(text.contains("\"nested\" : [\n    []\n  ]"), "\(text)")
        #expect(text.contains(#""text" : "a [ ] and { } inside a string, and \\\" [\n] too""#), "\(text)")
        #expect(text.contains("\"full\" : [\n    1\n  ]"), "\(text)")
        #expect(!text.contains("[\n\n"), "\(text)")
    }
}
