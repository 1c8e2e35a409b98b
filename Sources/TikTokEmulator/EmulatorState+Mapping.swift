extension EmulatorState {
    /// Counts a `/segment/mapping/` request and takes the next queued fault, if any.
    func beginMappingRequest() -> EmulatorFault? {
        self.mappingRequestCount += 1
        return self.faults.isEmpty ? nil : self.faults.removeFirst()
    }

    /// `POST /segment/mapping/`: authenticate, rate limit, validate, then apply with set semantics.
    /// `parsed` is the body already read by ``MappingRequest/init(contentType:body:advertiserID:)``
    /// outside the actor (parsing 10,000 users is the expensive part, and needs no state).
    func applyMapping(
        _ parsed: Result<MappingRequest, TikTokAPIError>, accessToken: String?, at now: ContinuousClock.Instant
    ) -> EmulatorReply {
        do throws(TikTokAPIError) {
            try self.authorize(accessToken)
            guard self.rateLimiter.admit(at: now, limit: self.requestsPerSecondLimit) else {
                throw .tooManyRequests
            }
            let mapping = try parsed.get()
            try mapping.checkAudiences(
                audienceExists: { self.audiences[$0] != nil }, refusedAudiences: self.refusedAudiences)
            self.apply(mapping)
            return .success()
        } catch {
            return .failure(error)
        }
    }

    private func apply(_ mapping: MappingRequest) {
        for assignment in mapping.assignments {
            switch mapping.action {
            case .add: self.audiences[assignment.audienceID]?.members.insert(assignment.member)
            case .delete: self.audiences[assignment.audienceID]?.members.remove(assignment.member)
            }
        }
        self.appliedMappingRequestCount += 1
        self.identifiersReceived += mapping.userCount
    }
}
