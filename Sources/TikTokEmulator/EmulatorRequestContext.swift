import Hummingbird

/// Hummingbird's per-request context, plus a way to hang up on the client
/// (``EmulatorFault/applyThenDropConnection``).
struct EmulatorRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    /// Closes the connection; the response written afterwards never reaches the client.
    let dropConnection: @Sendable () async -> Void

    init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        let channel = source.channel
        self.dropConnection = {
            try? await channel.close().get()
        }
    }

    /// Room for a full 10,000-user batch with several identifier types and audiences.
    var maxUploadSize: Int { 64 * 1_024 * 1_024 }
}
