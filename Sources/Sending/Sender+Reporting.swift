import Logging
import AudienceLedger
import AudienceModel
import AudienceTikTok

// How the sender words what happened to a batch: the pause an answer means for every batch,
// a failure for the report, and the fields of its log lines.
extension Sender {
    func pauseFor(_ handling: AnswerHandling, _ answer: TikTokAnswer?) -> SendPause {
        let said = answer?.summary ?? "no answer"
        switch handling {
        case .tokenRefused:
            let advice = ReturnCodeAdvice.forCode(answer?.envelope?.code) ?? "renew it (tiktok-audience-sync auth)"
            return SendPause(
                kind: .tokenRefused,
                message: "TikTok refused the access token (\(said)); \(advice), and everything pending will be sent")
        case .configurationRefused:
            let advice = ReturnCodeAdvice.forCode(answer?.envelope?.code) ?? "check tiktok.advertiser_id and the app's permissions"
            return SendPause(
                kind: .accessRefused,
                message: "TikTok refused access for advertiser \(client.advertiserID) (\(said)); \(advice). Everything stays pending")
        case .serviceRefused:
            let advice = ReturnCodeAdvice.forCode(answer?.envelope?.code)
                ?? "check tiktok.base_url (it ends in /open_api/v1.3)"
            return SendPause(
                kind: .serviceRefused,
                message: "TikTok refused the call for every segment (\(said)); \(advice). Sending is paused with everything pending and tried again later")
        default:
            return SendPause(
                kind: .bodyRejected,
                message: "TikTok could not read a request body (\(said)); this is a bug in tiktok-audience-sync, please report it")
        }
    }

    func failure(_ batch: MappingBatch, _ answer: TikTokAnswer?, reason: String) -> SendFailure {
        SendFailure(
            segments: batch.segments, action: batch.action == .add ? "add" : "delete",
            identifierType: batch.type.schemaName, rows: batch.rows.count, code: answer?.envelope?.code,
            httpStatus: answer?.httpStatus, message: answer?.envelope?.message ?? answer?.bodySnippet ?? reason,
            requestID: answer?.envelope?.requestID)
    }

    func batchMetadata(_ batch: MappingBatch, _ answer: TikTokAnswer? = nil) -> Logger.Metadata {
        var metadata: Logger.Metadata = [
            "action": "\(batch.action == .add ? "add" : "delete")",
            "id_type": "\(batch.type.schemaName)",
            "users": "\(batch.userCount)",
            "segments": "\(batch.segments.joined(separator: ","))",
        ]
        if let answer {
            if let envelope = answer.envelope {
                metadata["code"] = "\(envelope.code)"
                metadata["message"] = "\(envelope.message)"
                metadata["request_id"] = "\(envelope.requestID)"
            }
            metadata["http_status"] = "\(answer.httpStatus)"
        }
        return metadata
    }
}
