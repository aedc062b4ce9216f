/// Why one image could not be read. Each case names its source (a path, or `<memory>`) and prints as
/// one line.
public enum ImageError: Error, Equatable, CustomStringConvertible {
    /// The file could not be opened or read (missing, a directory, no permission ...).
    case unreadable(source: String, reason: String)
    /// Zero bytes.
    case empty(source: String)
    /// Another format (GIF, BMP, ...) than the decoder reads, or not an image at all.
    case wrongFormat(source: String, format: ImageFormat, expected: [ImageFormat])
    /// The decoder (libjpeg or libpng) rejected the data.
    case corrupt(source: String, format: ImageFormat, reason: String)
    /// The data ends before the image does.
    case truncated(source: String, format: ImageFormat)

    public var description: String { "\(source): \(reason)" }

    /// What went wrong, without the source.
    public var reason: String {
        switch self {
        case let .unreadable(_, reason): return "cannot read: \(reason)"
        case .empty: return "empty file"
        case let .wrongFormat(_, format, expected):
            return "not a \(expected.map(\.rawValue).joined(separator: " or ")) (\(format.rawValue))"
        case let .corrupt(_, format, reason): return "corrupt \(format.rawValue): \(reason)"
        case let .truncated(_, format): return "truncated \(format.rawValue)"
        }
    }

    /// The source the error is about.
    public var source: String {
        switch self {
        case let .unreadable(s, _), let .empty(s), let .wrongFormat(s, _, _), let .corrupt(s, _, _), let .truncated(s, _):
            return s
        }
    }

    /// The text of a shim's fixed-size, NUL-terminated `char message[]` (imported as a tuple).
    static func text<M>(ofCMessage message: inout M) -> String {
        withUnsafeBytes(of: &message) { raw in String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self) }
    }
}
