/// A `/segment/mapping/` body that passed every check: what to add to or delete from which audience.
///
/// Validation is pure: it reads the body and the audiences that exist, and either describes the
/// change or throws the envelope error TikTok would answer. Nothing is applied here.
struct MappingRequest: Sendable {
    enum Action: String, Sendable {
        case add
        case delete
    }

    /// One (audience, member) pair the request touches, and where in `batch_data` it was named.
    struct Assignment: Sendable {
        let audienceID: String
        let member: EmulatorMember
        let user: Int32
        let position: Int32
    }

    /// TikTok's documented per-request limit.
    static let maximumUsers = 10_000

    let action: Action
    let advertiserID: String
    let assignments: [Assignment]
    /// Users (inner arrays of `batch_data`) in the request.
    let userCount: Int

    /// Validates a request body: everything that does not depend on the account's audiences, so it
    /// can run outside the emulator's state, on any thread (see ``checkAudiences``).
    /// - Parameters:
    ///   - advertiserID: the only advertiser the token may act for.
    init(contentType: String?, body: [UInt8], advertiserID: String) throws(TikTokAPIError) {
        let root = try WireRules.jsonObjectBody(contentType: contentType, body: body)
        try Self.checkAdvertisers(root["advertiser_ids"], advertiserID: advertiserID)
        self.action = try Self.action(root["action"])
        let schema = try Self.schema(root["id_schema"])
        let users = try Self.users(root["batch_data"])

        var assignments: [Assignment] = []
        assignments.reserveCapacity(users.count)
        for (userIndex, user) in users.enumerated() {
            let location = "batch_data[\(userIndex)]"
            guard let elements = user.arrayValue else {
                throw .param("\(location) must be an array aligned with id_schema, got \(user.kindDescription)")
            }
            guard elements.count == schema.count else {
                throw .param(
                    "\(location) has \(elements.count) elements but id_schema has \(schema.count): each user must be "
                        + "aligned with id_schema, with {} where the user has no identifier of that type"
                )
            }
            var identifiers = 0
            for (position, element) in elements.enumerated() {
                let elementLocation = "\(location)[\(position)]"
                guard let identifier = try Self.identifier(element, type: schema[position], at: elementLocation)
                else { continue }
                identifiers += 1
                let member = EmulatorMember(idType: schema[position].rawValue, id: identifier.id)
                for audienceID in identifier.audienceIDs {
                    assignments.append(
                        Assignment(audienceID: audienceID, member: member, user: Int32(userIndex), position: Int32(position)))
                }
            }
            guard identifiers > 0 else {
                throw .param("\(location) has no identifier: every element is {}")
            }
        }
        self.assignments = assignments
        self.userCount = users.count
        self.advertiserID = advertiserID
    }

    private static func checkAdvertisers(_ value: JSONValue?, advertiserID: String) throws(TikTokAPIError) {
        guard let value else { throw .param("advertiser_ids is required") }
        guard let ids = value.arrayValue else {
            throw .param("advertiser_ids must be an array of strings, got \(value.kindDescription)")
        }
        guard !ids.isEmpty else { throw .param("advertiser_ids must not be empty") }
        for (index, id) in ids.enumerated() {
            let string = try WireRules.digitID(id, field: "advertiser_ids[\(index)]")
            guard string == advertiserID else {
                throw .permission("No permission to operate advertiser \(string) with this access token")
            }
        }
    }

    private static func action(_ value: JSONValue?) throws(TikTokAPIError) -> Action {
        guard let value else { return .add }
        guard let string = value.stringValue, let action = Action(rawValue: string) else {
            let shown = value.stringValue.map { "\"\($0)\"" } ?? value.kindDescription
            throw .param("action must be \"add\" or \"delete\", got \(shown)")
        }
        return action
    }

    private static func schema(_ value: JSONValue?) throws(TikTokAPIError) -> [IdentifierType] {
        guard let value else { throw .param("id_schema is required") }
        guard let names = value.arrayValue else {
            throw .param("id_schema must be an array of strings, got \(value.kindDescription)")
        }
        guard !names.isEmpty else { throw .param("id_schema must not be empty") }
        var schema: [IdentifierType] = []
        for (index, name) in names.enumerated() {
            guard let string = name.stringValue else {
                throw .param("id_schema[\(index)] must be a string, got \(name.kindDescription)")
            }
            guard let type = IdentifierType(rawValue: string) else {
                throw .param("id_schema[\(index)] \"\(string)\" is not supported; use one of \(IdentifierType.allNames)")
            }
            guard !schema.contains(type) else {
                throw .param("id_schema lists \(string) twice; each type may appear once")
            }
            schema.append(type)
        }
        return schema
    }

    private static func users(_ value: JSONValue?) throws(TikTokAPIError) -> [JSONValue] {
        guard let value else { throw .param("batch_data is required") }
        guard let users = value.arrayValue else {
            throw .param("batch_data must be an array of arrays, got \(value.kindDescription)")
        }
        guard !users.isEmpty else { throw .param("batch_data must not be empty") }
        guard users.count <= Self.maximumUsers else {
            throw .batchTooLarge(users: users.count, limit: Self.maximumUsers)
        }
        return users
    }

    /// The id and audiences of one element, or nil for `{}`.
    private static func identifier(
        _ element: JSONValue,
        type: IdentifierType,
        at location: String
    ) throws(TikTokAPIError) -> (id: String, audienceIDs: [String])? {
        guard let members = element.objectValue else {
            throw .param("\(location) must be an object ({} or {\"id\", \"audience_ids\"}), got \(element.kindDescription)")
        }
        if members.isEmpty { return nil }
        if let unexpected = members.first(where: { $0.key != "id" && $0.key != "audience_ids" }) {
            throw .param("\(location) has unexpected key \"\(unexpected.key)\"; only id and audience_ids are allowed")
        }
        let id = try WireRules.requiredString(element["id"], field: "\(location).id")
        if let problem = type.problem(with: id, at: "\(location).id") {
            throw problem
        }
        guard let audiencesValue = element["audience_ids"] else {
            throw .param("\(location).audience_ids is required")
        }
        guard let audienceValues = audiencesValue.arrayValue else {
            throw .param("\(location).audience_ids must be an array of strings, got \(audiencesValue.kindDescription)")
        }
        guard !audienceValues.isEmpty else { throw .param("\(location).audience_ids must not be empty") }
        var audienceIDs: [String] = []
        for (index, audience) in audienceValues.enumerated() {
            audienceIDs.append(try WireRules.digitID(audience, field: "\(location).audience_ids[\(index)]"))
        }
        return (id, audienceIDs)
    }

    /// The checks that need the account: every audience named exists for the advertiser, is a
    /// Partner audience and takes writes now (40002 otherwise). The first offending element, in
    /// body order, is named.
    /// - Parameters:
    ///   - audienceType: the audience's `audience_type`; nil when the advertiser has no such audience.
    ///   - refusedAudiences: audiences that currently refuse writes (answered as 40002).
    func checkAudiences(audienceType: (String) -> String?, refusedAudiences: Set<String>) throws(TikTokAPIError) {
        var checked: Set<String> = []
        for assignment in assignments where !checked.contains(assignment.audienceID) {
            let audienceID = assignment.audienceID
            let location = "batch_data[\(assignment.user)][\(assignment.position)]"
            guard let type = audienceType(audienceID) else {
                throw .param(
                    "\(location).audience_ids: audience \(audienceID) does not exist or does not belong to advertiser \(advertiserID)"
                )
            }
            guard type == "Partner" else { throw .notPartnerAudience(audienceID, type: type) }
            guard !refusedAudiences.contains(audienceID) else {
                throw .param("\(location).audience_ids: audience \(audienceID) cannot be written to now (refused)")
            }
            checked.insert(audienceID)
        }
    }
}
