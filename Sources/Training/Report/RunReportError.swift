/// Why a run folder's report could not be written; prints as one line. Only the folder and its
/// `config.json` are required: an unreadable optional file becomes a note on the page instead.
public enum RunReportError: Error, Equatable, CustomStringConvertible {
    case notARunFolder(path: String)
    case unreadableConfig(path: String, reason: String)

    public var description: String {
        switch self {
        case let .notARunFolder(path):
            return "\(path) is not a run folder (it has no config.json)"
        case let .unreadableConfig(path, reason):
            return "cannot read \(path): \(reason)"
        }
    }
}
