extension EmulatorState {
    /// The scope ids a granted token carries (4: Audience Management, as the task brief assumes).
    static let grantedScopes: [Int] = [4]

    /// `POST /oauth2/access_token/` (no `Access-Token` header): trade an auth code for a token, once.
    ///
    /// The granted token is accepted from then on, alongside the configured one, until
    /// ``setAccessToken(_:)`` replaces them all.
    func exchangeAuthCode(_ request: IncomingRequest) -> EmulatorReply {
        do throws(TikTokAPIError) {
            let body = try WireRules.jsonObjectBody(contentType: request.contentType, body: request.body)
            let appID = try WireRules.requiredString(body["app_id"], field: "app_id")
            let secret = try WireRules.requiredString(body["secret"], field: "secret")
            let code = try WireRules.requiredString(body["auth_code"], field: "auth_code")
            // TikTok's codes: 40101 INVALID_PARTNER for the app, 40110 AUTH_CODE_ERROR for the code.
            guard appID == self.appID, secret == self.appSecret else { throw .invalidPartner }
            guard !code.isEmpty, let token = self.authCodes.removeValue(forKey: code) else { throw .authCodeError }
            self.accessTokens.insert(token)
            return .success(
                .object([
                    "access_token": .string(token),
                    "advertiser_ids": [.string(self.advertiserID)],
                    "scope": .array(Self.grantedScopes.map(JSONValue.int)),
                ])
            )
        } catch {
            return .failure(error)
        }
    }

    /// `GET /user/info/`: who the token belongs to.
    func userInfo(_ request: IncomingRequest) -> EmulatorReply {
        do throws(TikTokAPIError) {
            try self.authorize(request.accessToken)
            return .success(
                .object([
                    "display_name": "Emulator user",
                    "email": "emulator-user@example.com",
                    "id": "6900000000000000001",
                ])
            )
        } catch {
            return .failure(error)
        }
    }
}
