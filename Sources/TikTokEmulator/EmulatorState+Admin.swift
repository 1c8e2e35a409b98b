/// The `/_emulator/...` routes: not TikTok's, for scripts and processes that cannot reach the actor.
extension EmulatorState {
    /// `GET /_emulator/members?audience_id=X` → `{"audience_id": X, "members": [{"id_type", "id"}, ...]}`, sorted.
    func adminMembers(_ request: IncomingRequest) -> EmulatorReply {
        guard let audienceID = request.query["audience_id"], !audienceID.isEmpty else {
            return .adminError(status: 400, "audience_id is required")
        }
        self.applyDueLateLandings()
        guard let audience = self.audiences[audienceID] else {
            return .adminError(status: 404, "audience \(audienceID) does not exist")
        }
        let members = audience.members.sorted().map { member in
            JSONValue.object(["id_type": .string(member.idType), "id": .string(member.id)])
        }
        return .json(status: 200, body: .object(["audience_id": .string(audienceID), "members": .array(members)]))
    }

    /// `GET /_emulator/stats` → counters and audience sizes.
    func adminStats() -> EmulatorReply {
        self.applyDueLateLandings()
        let counts = self.audienceOrder.compactMap { id in
            self.audiences[id].map { JSONMember(id, .int($0.members.count)) }
        }
        return .json(
            status: 200,
            body: .object([
                "mapping_requests": .int(self.mappingRequestCount),
                "applied_mapping_requests": .int(self.appliedMappingRequestCount),
                "identifiers_received": .int(self.identifiersReceived),
                "member_counts": .object(counts),
                "queued_faults": .int(self.faults.count),
                "peak_concurrent_requests": .int(self.peakConcurrentRequests),
            ])
        )
    }

    /// `POST /_emulator/faults` with a JSON array of faults (see ``EmulatorFault/init(adminJSON:)``).
    func adminEnqueueFaults(_ request: IncomingRequest) -> EmulatorReply {
        let value: JSONValue
        do {
            value = try JSONParser.parse(request.body)
        } catch {
            return .adminError(status: 400, "body is not valid JSON: \(error)")
        }
        guard let elements = value.arrayValue else {
            return .adminError(status: 400, "body must be a JSON array of faults, e.g. [{\"code\":40100}]")
        }
        var faults: [EmulatorFault] = []
        for (index, element) in elements.enumerated() {
            do throws(EmulatorFault.AdminJSONError) {
                faults.append(try EmulatorFault(adminJSON: element))
            } catch {
                return .adminError(status: 400, "faults[\(index)]: \(error.reason)")
            }
        }
        self.enqueue(faults)
        return .json(status: 200, body: .object(["enqueued": .int(faults.count), "queued_faults": .int(self.faults.count)]))
    }
}
