/// Why one image could not be read. Each case names its source (a path, or `<memory>`) and prints as
/// one line.
public enum ImageError: Error, Equatable, CustomStringConvertible {
    /// The file could not be opened or read (missing, a directory, no permission ...).
    case unreadable(source: String, reason: String)
    /// Zero bytes.
    case empty(source: String)
    /// Another format (PNG, GIF, ...) or not an image at all.
    case notJPEG(source: String, format: String)
    /// libjpeg rejected the data.
    case corrupt(source: String, reason: String)
    /// The data ends before the image does.
    case truncated(source: String)

    public var description: String { "\(source): \(reason)" }

    /// What went wrong, without the source.
    public var reason: String {
        switch self {
        case let .unreadable(_, reason): return "cannot read: \(reason)"
        case .empty: return "empty file"
        case let .notJPEG(_, format): return "not a JPEG (\(format))"
        case let .corrupt(_, reason): return "corrupt JPEG: \(reason)"
        case .truncated: return "truncated JPEG"
        }
    }

    /// The source the error is about.
    public var source: String {
        switch self {
        case let .unreadable(s, _), let .empty(s), let .notJPEG(s, _), let .corrupt(s, _), let .truncated(s):
            return s
        }
    }
}
