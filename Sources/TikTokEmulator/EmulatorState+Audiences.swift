extension EmulatorState {
    /// Most audiences `/dmp/custom_audience/get/` takes at once.
    static let maximumAudiencesPerGet = 100
    /// Largest `page_size` `/dmp/custom_audience/list/` takes.
    static let maximumPageSize = 100

    /// `POST /segment/audience/`: `create` a Partner audience or `delete` one.
    func changeAudience(_ request: IncomingRequest) -> EmulatorReply {
        do throws(TikTokAPIError) {
            try self.authorize(request.accessToken)
            let body = try WireRules.jsonObjectBody(contentType: request.contentType, body: request.body)
            try self.checkAdvertiser(try WireRules.requiredDigitID(body["advertiser_id"], field: "advertiser_id"))
            let action = try WireRules.requiredString(body["action"], field: "action")
            switch action {
            case "create":
                let name = try WireRules.requiredString(body["custom_audience_name"], field: "custom_audience_name")
                guard !name.trimmingSpaces().isEmpty else { throw .param("custom_audience_name must not be empty") }
                var audience = AudienceRecord(id: self.newAudienceID(), name: name)
                if self.newAudienceRefusal > .zero { audience.notReadyUntil = ContinuousClock.now + self.newAudienceRefusal }
                self.insertAudience(audience)
                return .success(.object(["audience_id": .string(audience.id)]))
            case "delete":
                let id = try WireRules.requiredDigitID(body["delete_audience_id"], field: "delete_audience_id")
                guard self.audiences.removeValue(forKey: id) != nil else {
                    throw .param("delete_audience_id: audience \(id) does not exist or does not belong to advertiser \(self.advertiserID)")
                }
                self.audienceOrder.removeAll { $0 == id }
                return .success()
            default:
                throw .param("action must be \"create\" or \"delete\", got \"\(action)\"")
            }
        } catch {
            return .failure(error)
        }
    }

    /// `GET /dmp/custom_audience/get/?advertiser_id=…&custom_audience_ids=["…"]`.
    ///
    /// Assumption: TikTok's documentation does not say what happens to ids that do not exist; the
    /// emulator leaves them out of `data.list` instead of failing the whole request.
    func getAudiences(_ request: IncomingRequest) -> EmulatorReply {
        do throws(TikTokAPIError) {
            try self.authorize(request.accessToken)
            try self.checkAdvertiser(try WireRules.queryDigitID(request.query["advertiser_id"], field: "advertiser_id"))
            guard let ids = try Self.audienceIDs(request.query["custom_audience_ids"]) else {
                throw .param("custom_audience_ids is required, e.g. custom_audience_ids=[\"123\"]")
            }
            let list = ids.compactMap { self.audiences[$0] }.map { JSONValue.object(["audience_details": $0.details()]) }
            return .success(.object(["list": .array(list)]))
        } catch {
            return .failure(error)
        }
    }

    /// `GET /dmp/custom_audience/list/?advertiser_id=…&page=1&page_size=10`.
    ///
    /// List items carry the audience fields directly rather than under `audience_details`, and
    /// `data.page_info` describes the page (bububa's `model/dmp/customaudience/list.go`).
    func listAudiences(_ request: IncomingRequest) -> EmulatorReply {
        do throws(TikTokAPIError) {
            try self.authorize(request.accessToken)
            try self.checkAdvertiser(try WireRules.queryDigitID(request.query["advertiser_id"], field: "advertiser_id"))
            let page = try Self.positiveInteger(request.query["page"], field: "page", default: 1, maximum: Int.max / 1_000)
            let pageSize = try Self.positiveInteger(
                request.query["page_size"],
                field: "page_size",
                default: 10,
                maximum: Self.maximumPageSize
            )
            var ids = self.audienceOrder
            if let wanted = try Self.audienceIDs(request.query["custom_audience_ids"]) {
                let wantedSet = Set(wanted)
                ids = ids.filter { wantedSet.contains($0) }
            }
            let pageIDs = ids.dropFirst((page - 1) * pageSize).prefix(pageSize)
            let list = pageIDs.compactMap { self.audiences[$0]?.details() }
            let totalPages = (ids.count + pageSize - 1) / pageSize
            return .success(
                .object([
                    "list": .array(list),
                    "page_info": .object([
                        "page": .int(page),
                        "page_size": .int(pageSize),
                        "total_number": .int(ids.count),
                        "total_page": .int(totalPages),
                    ]),
                ])
            )
        } catch {
            return .failure(error)
        }
    }

    func checkAdvertiser(_ id: String) throws(TikTokAPIError) {
        guard id == self.advertiserID else {
            throw .permission("No permission to operate advertiser \(id) with this access token")
        }
    }

    private func newAudienceID() -> String {
        repeat {
            self.lastCreatedAudienceNumber += 1
        } while self.audiences[String(self.lastCreatedAudienceNumber)] != nil
        return String(self.lastCreatedAudienceNumber)
    }

    /// Parses `custom_audience_ids`, a JSON array of 1 to 100 id strings in the query; nil when absent.
    private static func audienceIDs(_ raw: String?) throws(TikTokAPIError) -> [String]? {
        guard let raw else { return nil }
        let example = "it must be a JSON array of audience id strings, e.g. [\"123\"]"
        let value: JSONValue
        do {
            value = try JSONParser.parse(raw)
        } catch {
            throw .param("custom_audience_ids is not valid JSON (\(error)): \(example)")
        }
        guard let elements = value.arrayValue else {
            throw .param("custom_audience_ids is \(value.kindDescription): \(example)")
        }
        guard (1...Self.maximumAudiencesPerGet).contains(elements.count) else {
            throw .param("custom_audience_ids has \(elements.count) ids; send 1 to \(Self.maximumAudiencesPerGet)")
        }
        var ids: [String] = []
        for (index, element) in elements.enumerated() {
            ids.append(try WireRules.digitID(element, field: "custom_audience_ids[\(index)]"))
        }
        return ids
    }

    private static func positiveInteger(
        _ raw: String?,
        field: String,
        default defaultValue: Int,
        maximum: Int
    ) throws(TikTokAPIError) -> Int {
        guard let raw else { return defaultValue }
        guard let value = Int(raw), value >= 1, value <= maximum else {
            throw .param("\(field) must be an integer from 1 to \(maximum), got \"\(raw)\"")
        }
        return value
    }
}
