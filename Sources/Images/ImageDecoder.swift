/// The decoder the datasets use: it reads a file's signature and hands JPEGs to `JPEGDecoder` and
/// PNGs to `PNGDecoder`, whatever the file is called (a PNG named `.jpg` decodes).
public enum ImageDecoder {
    /// The pixel format to decode to.
    public enum Output: Sendable {
        /// Gray files stay gray (1 channel); everything else becomes RGB.
        case auto
        /// Always RGB (gray is replicated).
        case rgb
        /// Always gray (ITU-R 601 luma of colour, as Pillow's `convert("L")`).
        case gray
    }

    /// The formats decoded.
    public static let formats: [ImageFormat] = [.jpeg, .png]

    /// The file extensions (lowercase) that mark a file as an image when a folder's format is
    /// guessed; decoding itself ignores them.
    public static let fileExtensions: Set<String> = ["jpg", "jpeg", "jpe", "jfif", "png"]

    /// What a header says, in the terms the datasets need.
    public struct Header: Equatable, Sendable {
        public var format: ImageFormat
        public var width: Int
        public var height: Int
        /// Decoded with `.auto`, the image has one channel.
        public var isGray: Bool
    }

    /// Decodes a JPEG or PNG held in memory. `minimumWidth`/`minimumHeight` let a JPEG decode at a
    /// DCT-reduced size (see `JPEGDecoder.decode`); PNGs always decode at full size.
    public static func decode(_ bytes: [UInt8], minimumWidth: Int = 0, minimumHeight: Int = 0,
                              output: Output = .auto, source: String = "<memory>") throws -> Image {
        try bytes.withUnsafeBytes { raw in
            switch try ImageFormat.require(formats, in: raw, source: source) {
            case .png: return try PNGDecoder.decode(raw, output: output, source: source)
            default: return try JPEGDecoder.decode(raw, minimumWidth: minimumWidth, minimumHeight: minimumHeight,
                                                   output: output, source: source)
            }
        }
    }

    /// Reads and decodes the file at `path`; errors name the path.
    public static func decode(contentsOf path: String, minimumWidth: Int = 0, minimumHeight: Int = 0,
                              output: Output = .auto) throws -> Image {
        try decode(FileBytes.read(path), minimumWidth: minimumWidth, minimumHeight: minimumHeight,
                   output: output, source: path)
    }

    /// Parses the header only: a cheap check that the file is a JPEG or PNG its library accepts.
    public static func header(_ bytes: [UInt8], source: String = "<memory>") throws -> Header {
        try bytes.withUnsafeBytes { raw in
            switch try ImageFormat.require(formats, in: raw, source: source) {
            case .png:
                let header = try PNGDecoder.header(raw, source: source)
                return Header(format: .png, width: header.width, height: header.height, isGray: header.isGray)
            default:
                let header = try JPEGDecoder.header(raw, source: source)
                return Header(format: .jpeg, width: header.width, height: header.height, isGray: header.components == 1)
            }
        }
    }

    /// Reads the file at `path` and parses its header.
    public static func header(contentsOf path: String) throws -> Header {
        try header(FileBytes.read(path), source: path)
    }
}
