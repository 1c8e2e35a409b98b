import Glibc
import AudienceModel

/// A file or folder of the inbox or the state directory that cannot be used as it is.
public struct InboxError: OperatorError {
    public let path: String
    public let detail: String
    public let ending: FailureEnding

    /// `ending`: a disk or a moment's trouble passes (75, the default); an argument that names
    /// the wrong file is the operator's input (65); a folder that cannot be ours is set-up (78).
    package init(path: String, _ detail: String, ending: FailureEnding = .retryLater) {
        self.path = path
        self.detail = detail
        self.ending = ending
    }

    public var description: String { "\(path): \(detail)" }

}
