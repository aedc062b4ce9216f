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

    public var description: String {
        switch self {
        case let .unreadable(source, reason): return "\(source): cannot read: \(reason)"
        case let .empty(source): return "\(source): empty file"
        case let .notJPEG(source, format): return "\(source): not a JPEG (\(format))"
        case let .corrupt(source, reason): return "\(source): corrupt JPEG: \(reason)"
        case let .truncated(source): return "\(source): truncated JPEG"
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
