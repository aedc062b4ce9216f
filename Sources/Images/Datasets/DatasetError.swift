/// Why a dataset could not be opened; prints as one line.
public enum DatasetError: Error, Equatable, CustomStringConvertible {
    case notFound(path: String)
    case unknownFormat(path: String, detail: String)
    case noImages(path: String)
    case malformed(path: String, reason: String)
    case noSplit(path: String, split: DatasetSplit)
    case badOption(String)

    public var description: String {
        switch self {
        case let .notFound(path): return "dataset not found: \(path) does not exist"
        case let .unknownFormat(path, detail): return "cannot tell the dataset format of \(path): \(detail)"
        case let .noImages(path): return "no readable image in \(path)"
        case let .malformed(path, reason): return "\(path): \(reason)"
        case let .noSplit(path, split): return "\(path) has no \(split.rawValue) split"
        case let .badOption(message): return message
        }
    }
}
