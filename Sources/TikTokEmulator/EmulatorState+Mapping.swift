extension EmulatorState {
    /// Counts a `/segment/mapping/` request and takes the next queued fault, if any. Returns the
    /// request's number (1 for the first) with the fault.
    func beginMappingRequest() -> (number: Int, fault: EmulatorFault?) {
        self.applyDueLateLandings()
        self.mappingRequestCount += 1
        defer { self.stateChanged() }
        if !self.faults.isEmpty { return (self.mappingRequestCount, self.faults.removeFirst()) }
        for random in self.randomFaults where self.nextUniform() < random.probability {
            return (self.mappingRequestCount, random.fault)
        }
        return (self.mappingRequestCount, nil)
    }

    /// A mapping request answered with an error (a fault or a refusal), not applied.
    func noteRefusedMapping() {
        self.refusedMappingRequestCount += 1
        self.stateChanged()
    }

    /// A uniform number in 0..<1 from the seeded state (splitmix64).
    private func nextUniform() -> Double {
        self.randomState &+= 0x9E37_79B9_7F4A_7C15
        var value = self.randomState
        value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
        value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
        return Double((value ^ (value >> 31)) >> 11) / Double(1 << 53)
    }

    /// `POST /segment/mapping/`: authenticate, rate limit, validate, then apply with set semantics.
    /// `parsed` is the body already read by ``MappingRequest/init(contentType:body:advertiserID:)``
    /// outside the actor (parsing 10,000 users is the expensive part, and needs no state).
    func applyMapping(
        _ parsed: Result<MappingRequest, TikTokAPIError>, accessToken: String?, at now: ContinuousClock.Instant,
        request: Int, landing: MemberTraceEvent.Landing = .whenAnswered, rateLimited: Bool = true
    ) -> EmulatorReply {
        do throws(TikTokAPIError) {
            try self.authorize(accessToken)
            guard !rateLimited || self.rateLimiter.admit(at: now, limit: self.requestsPerSecondLimit) else {
                throw .tooManyRequests
            }
            let mapping = try parsed.get()
            for id in Set(mapping.assignments.map(\.audienceID)) {
                if let until = self.audiences[id]?.notReadyUntil, until > now { throw .audienceNotReady(id) }
            }
            try mapping.checkAudiences(
                audienceType: { self.audiences[$0]?.audienceType }, refusedAudiences: self.refusedAudiences)
            self.apply(mapping, at: now, request: request, landing: landing)
            return .success()
        } catch {
            self.noteRefusedMapping()
            return .failure(error)
        }
    }

    /// Keeps a request to apply at `due`: it lands when the first request or inspection after that
    /// time arrives, before that one is handled, so the order of landings is the order of time
    /// (whenever this process's threads get to run). A delayed request keeps its answer for
    /// ``delayedReply(_:)``; a late one was answered already.
    func applyLater(
        _ parsed: Result<MappingRequest, TikTokAPIError>, accessToken: String?, due: ContinuousClock.Instant,
        request: Int, landing: MemberTraceEvent.Landing
    ) {
        self.lateLandings.append(LateLanding(parsed: parsed, accessToken: accessToken, due: due, request: request, landing: landing))
        // Also landed by a timer, for whoever waits for the state (``waitUntil(timeout:_:)``)
        // without sending requests; a request or an inspection that comes first lands it.
        Task { [weak self] in
            try? await Task.sleep(until: due)
            await self?.applyDueLateLandings()
        }
    }

    /// The answer of a delayed request, once its time has come (nil before: its handler was
    /// cancelled, the request still lands when due, and its answer is not kept).
    func delayedReply(_ request: Int) -> EmulatorReply? {
        self.applyDueLateLandings()
        guard let reply = self.delayedReplies.removeValue(forKey: request) else {
            self.abandonedDelayedRequests.insert(request)
            return nil
        }
        return reply
    }

    /// A request answered as it is handled: the late and delayed requests due by now land first,
    /// and the time is read here, so that landings and answers are applied in the order of time.
    func applyAnswered(_ parsed: Result<MappingRequest, TikTokAPIError>, accessToken: String?, request: Int) -> EmulatorReply {
        self.applyDueLateLandings()
        return self.applyMapping(parsed, accessToken: accessToken, at: .now, request: request)
    }

    /// Lands every late and delayed request now, whatever its time: for tests that need a late
    /// landing to come after a given moment without betting on a timer.
    public func landLateRequestsNow() {
        let now = ContinuousClock.now
        for index in self.lateLandings.indices where self.lateLandings[index].due > now {
            self.lateLandings[index].due = now
        }
        self.applyDueLateLandings()
    }

    /// Applies the late and delayed requests whose time has come, oldest first.
    func applyDueLateLandings() {
        let now = ContinuousClock.now
        let due = self.lateLandings.filter { $0.due <= now }.sorted { $0.due < $1.due }
        guard !due.isEmpty else { return }
        self.lateLandings.removeAll { $0.due <= now }
        for landing in due {
            // A late request was answered already: it is not rate limited again.
            let reply = self.applyMapping(
                landing.parsed, accessToken: landing.accessToken, at: landing.due, request: landing.request,
                landing: landing.landing, rateLimited: landing.landing == .afterDelay)
            if landing.landing == .afterDelay, self.abandonedDelayedRequests.remove(landing.request) == nil {
                self.delayedReplies[landing.request] = reply
            }
        }
    }

    private func apply(_ mapping: MappingRequest, at now: ContinuousClock.Instant, request: Int, landing: MemberTraceEvent.Landing) {
        defer { self.stateChanged() }
        for assignment in mapping.assignments {
            switch mapping.action {
            case .add: self.audiences[assignment.audienceID]?.members.insert(assignment.member)
            case .delete: self.audiences[assignment.audienceID]?.members.remove(assignment.member)
            }
            if self.memberTrace != nil {
                self.memberTrace?[assignment.member, default: []].append(MemberTraceEvent(
                    at: now, request: request, audienceID: assignment.audienceID, action: mapping.action.rawValue, landing: landing))
            }
        }
        self.appliedMappingRequestCount += 1
        self.identifiersReceived += mapping.userCount
    }
}

/// A request answered already and applied later; see ``EmulatorFault/landLate(after:status:)``.
struct LateLanding: Sendable {
    var parsed: Result<MappingRequest, TikTokAPIError>
    var accessToken: String?
    var due: ContinuousClock.Instant
    var request: Int
    var landing: MemberTraceEvent.Landing
}
