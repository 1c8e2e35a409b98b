import Hummingbird

/// Turns HTTP requests into ``EmulatorState`` calls and ``EmulatorReply`` values into HTTP.
struct EmulatorResponder: HTTPResponder {
    typealias Context = EmulatorRequestContext

    let state: EmulatorState
    /// Added before every answer under ``TikTokRoute/apiPrefix``.
    let latency: Duration

    func respond(to request: Request, context: Context) async throws -> Response {
        var request = request
        let body: [UInt8]
        do {
            body = Array(try await request.collectBody(upTo: context.maxUploadSize).readableBytesView)
        } catch {
            let tooLarge = TikTokAPIError(
                code: 40002,
                message: "request body could not be read or is larger than \(context.maxUploadSize) bytes",
                httpStatus: 413
            )
            return await self.render(.failure(tooLarge), context: context)
        }
        let incoming = Self.incomingRequest(request, body: body)
        await self.state.record(
            RecordedRequest(
                method: incoming.method,
                path: incoming.path,
                query: request.uri.query ?? "",
                headers: request.headers.map { RecordedRequest.Header(name: $0.name.rawName, value: $0.value) },
                body: body
            )
        )
        let reply: EmulatorReply
        if incoming.path == AdminRoute.prefix || incoming.path.hasPrefix(AdminRoute.prefix + "/") {
            reply = await self.adminReply(incoming)
        } else if incoming.path.hasPrefix(TikTokRoute.apiPrefix + "/") {
            await self.state.apiRequestBegan()
            if self.latency > .zero {
                try? await Task.sleep(for: self.latency)
            }
            reply = await self.apiReply(incoming)
            await self.state.apiRequestEnded()
        } else {
            reply = .failure(.notFound("unknown path \(incoming.path): TikTok's API lives under \(TikTokRoute.apiPrefix)/"))
        }
        return await self.render(reply, context: context)
    }

    private func apiReply(_ request: IncomingRequest) async -> EmulatorReply {
        let relativePath = String(request.path.dropFirst(TikTokRoute.apiPrefix.count))
        guard let route = TikTokRoute(relativePath: relativePath) else {
            return .failure(.notFound("unknown route \(relativePath) (TikTok's paths end with '/')"))
        }
        guard route.method == request.method else {
            return .failure(.notFound("\(request.method) is not served on \(relativePath); use \(route.method)"))
        }
        switch route {
        case .segmentMapping: return await self.mappingReply(request)
        case .segmentAudience: return await self.state.changeAudience(request)
        case .customAudienceGet: return await self.state.getAudiences(request)
        case .customAudienceList: return await self.state.listAudiences(request)
        case .userInfo: return await self.state.userInfo(request)
        case .oauthAccessToken: return await self.state.exchangeAuthCode(request)
        }
    }

    /// `/segment/mapping/`: a queued fault acts first, then the request is handled normally.
    private func mappingReply(_ request: IncomingRequest) async -> EmulatorReply {
        let (number, fault) = await self.state.beginMappingRequest()
        switch fault {
        case .code(let code, let message, let httpStatus):
            await self.state.noteRefusedMapping()
            return .failure(TikTokAPIError(code: code, message: message, httpStatus: httpStatus))
        case .gatewayError(let status):
            await self.state.noteRefusedMapping()
            return .gateway(status: status)
        case .delay, .applyThenFail, .applyThenDropConnection, .landLate, nil:
            break
        }
        // Parsed here, concurrently with other requests; the state only checks and applies.
        let parsed = Result { () throws(TikTokAPIError) -> MappingRequest in
            try MappingRequest(contentType: request.contentType, body: request.body, advertiserID: self.state.advertiserID)
        }
        switch fault {
        case .landLate(let after, let status):
            await self.state.applyLater(parsed, accessToken: request.accessToken, due: .now + after, request: number, landing: .late)
            return .gateway(status: status)
        case .delay(let duration):
            // Due at a time, not when this task wakes: a request that comes in after that time
            // finds it applied, however late this process gets to run the sleeper.
            let due = ContinuousClock.now + duration
            await self.state.applyLater(parsed, accessToken: request.accessToken, due: due, request: number, landing: .afterDelay)
            try? await Task.sleep(until: due)
            return await self.state.delayedReply(number) ?? .gateway(status: 504)
        default:
            break
        }
        let reply = await self.state.applyAnswered(parsed, accessToken: request.accessToken, request: number)
        switch fault {
        case .applyThenFail(let status): return .gateway(status: status)
        case .applyThenDropConnection: return .dropConnection
        default: return reply
        }
    }

    private func adminReply(_ request: IncomingRequest) async -> EmulatorReply {
        guard let route = AdminRoute(path: request.path) else {
            let known = AdminRoute.allCases.map { "\($0.method) \($0.path)" }.joined(separator: ", ")
            return .adminError(status: 404, "unknown emulator route \(request.path); known: \(known)")
        }
        guard route.method == request.method else {
            return .adminError(status: 405, "use \(route.method) for \(route.path)")
        }
        switch route {
        case .members: return await self.state.adminMembers(request)
        case .stats: return await self.state.adminStats()
        case .faults: return await self.state.adminEnqueueFaults(request)
        }
    }

    private func render(_ reply: EmulatorReply, context: Context) async -> Response {
        switch reply {
        case .envelope(let status, let code, let message, let data):
            let envelope = JSONValue.object([
                "code": .int(code),
                "message": .string(message),
                "request_id": .string(await self.state.nextRequestID()),
                "data": data,
            ])
            return Self.response(status: status, contentType: "application/json", text: envelope.serialized())
        case .json(let status, let body):
            return Self.response(status: status, contentType: "application/json", text: body.serialized())
        case .gateway(let status):
            return Self.response(status: status, contentType: "text/html", text: Self.gatewayPage(status: status))
        case .dropConnection:
            await context.dropConnection()
            // Written to a closed connection: the client sees the connection close, not this.
            return Self.response(status: 502, contentType: "text/html", text: Self.gatewayPage(status: 502))
        }
    }

    private static func response(status: Int, contentType: String, text: String) -> Response {
        Response(
            status: .init(code: status),
            headers: [.contentType: contentType],
            body: .init(byteBuffer: ByteBuffer(string: text))
        )
    }

    /// An nginx-style error page, deliberately not JSON.
    private static func gatewayPage(status: Int) -> String {
        let reason =
            switch status {
            case 500: "Internal Server Error"
            case 502: "Bad Gateway"
            case 503: "Service Temporarily Unavailable"
            case 504: "Gateway Time-out"
            default: "Error"
            }
        return "<html>\r\n<head><title>\(status) \(reason)</title></head>\r\n<body>\r\n"
            + "<center><h1>\(status) \(reason)</h1></center>\r\n<hr><center>emulated gateway</center>\r\n"
            + "</body>\r\n</html>\r\n"
    }

    private static func incomingRequest(_ request: Request, body: [UInt8]) -> IncomingRequest {
        var query: [String: String] = [:]
        for (key, value) in request.uri.queryParameters where query[String(key)] == nil {
            query[String(key)] = String(value)
        }
        let token = request.headers.first { $0.name.canonicalName == "access-token" }?.value
        return IncomingRequest(
            method: request.method.rawValue,
            path: request.uri.path,
            query: query,
            contentType: request.headers[.contentType],
            accessToken: token,
            body: body
        )
    }
}
