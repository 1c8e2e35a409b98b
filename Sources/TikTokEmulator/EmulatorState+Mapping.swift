extension EmulatorState {
    /// Counts a `/segment/mapping/` request and takes the next queued fault, if any.
    func beginMappingRequest() -> EmulatorFault? {
        self.mappingRequestCount += 1
        return self.faults.isEmpty ? nil : self.faults.removeFirst()
    }

    /// `POST /segment/mapping/`: authenticate, rate limit, validate, then apply with set semantics.
    func applyMapping(_ request: IncomingRequest, at now: ContinuousClock.Instant) -> EmulatorReply {
        do throws(TikTokAPIError) {
            try self.authorize(request.accessToken)
            guard self.rateLimiter.admit(at: now, limit: self.requestsPerSecondLimit) else {
                throw .tooManyRequests
            }
            let mapping = try MappingRequest(
                contentType: request.contentType,
                body: request.body,
                advertiserID: self.advertiserID,
                audienceExists: { self.audiences[$0] != nil },
                refusedAudiences: self.refusedAudiences
            )
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
