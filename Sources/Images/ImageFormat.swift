/// What a file's first bytes say it is. Decoding goes by this, never by the file's extension.
public enum ImageFormat: String, Sendable {
    case jpeg = "JPEG"
    case png = "PNG"
    case gif = "GIF"
    case bmp = "BMP"
    case tiff = "TIFF"
    case webp = "RIFF/WebP"
    case gzip
    case text
    case unknown = "unknown format"

    /// The format whose signature `bytes` start with; `.text` for printable ASCII.
    public static func sniff(_ bytes: UnsafeRawBufferPointer) -> ImageFormat {
        func starts(_ prefix: [UInt8]) -> Bool {
            bytes.count >= prefix.count && zip(bytes, prefix).allSatisfy { $0 == $1 }
        }
        if starts([0xFF, 0xD8]) { return .jpeg }
        if starts([0x89, 0x50, 0x4E, 0x47]) { return .png }
        if starts([0x47, 0x49, 0x46, 0x38]) { return .gif }
        if starts([0x42, 0x4D]) { return .bmp }
        if starts([0x49, 0x49, 0x2A, 0x00]) || starts([0x4D, 0x4D, 0x00, 0x2A]) { return .tiff }
        if starts([0x52, 0x49, 0x46, 0x46]) { return .webp }
        if starts([0x1F, 0x8B]) { return .gzip }
        let sample = bytes.prefix(64)
        if !sample.isEmpty && sample.allSatisfy({ $0 == 9 || $0 == 10 || $0 == 13 || (32..<127).contains($0) }) {
            return .text
        }
        return .unknown
    }

    /// The format of `bytes`, which must be one of `expected`; otherwise throws `.empty` or
    /// `.wrongFormat` (so a GIF named `.jpg` gets a clear message rather than a decoder's complaint).
    @discardableResult
    static func require(_ expected: [ImageFormat], in bytes: UnsafeRawBufferPointer, source: String) throws -> ImageFormat {
        if bytes.isEmpty { throw ImageError.empty(source: source) }
        let format = sniff(bytes)
        if !expected.contains(format) { throw ImageError.wrongFormat(source: source, format: format, expected: expected) }
        return format
    }
}
