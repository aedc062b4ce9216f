import CJPEG

/// JPEG decoding and encoding with libjpeg-turbo: the one place that calls libjpeg (through the
/// CJPEG shim, whose error handler returns instead of exiting). Every failure is a thrown
/// `ImageError`; nothing here can bring the process down.
public enum JPEGDecoder {
    /// The pixel format to decode to.
    public typealias Output = ImageDecoder.Output

    /// What the header says about a file.
    public struct Header: Equatable, Sendable {
        public var width: Int
        public var height: Int
        /// 1 (gray), 3 (YCbCr/RGB) or 4 (CMYK/YCCK).
        public var components: Int
        public var progressive: Bool

        public init(width: Int, height: Int, components: Int, progressive: Bool) {
            self.width = width
            self.height = height
            self.components = components
            self.progressive = progressive
        }
    }

    /// Decodes a JPEG held in memory.
    /// - Parameters:
    ///   - minimumWidth, minimumHeight: when positive, decode at the largest DCT reduction (1/8, 1/4,
    ///     1/2) whose output is still at least this size on both sides; 0 decodes at full size.
    ///   - source: the name used in error messages.
    public static func decode(_ bytes: UnsafeRawBufferPointer, minimumWidth: Int = 0, minimumHeight: Int = 0,
                              output: Output = .auto, source: String = "<memory>") throws -> Image {
        try ImageFormat.require([.jpeg], in: bytes, source: source)
        var result = cjpeg_image()
        let status = cjpeg_decode(bytes.baseAddress!.assumingMemoryBound(to: UInt8.self), bytes.count,
                                  Int32(minimumWidth), Int32(minimumHeight), code(output), &result)
        try check(status, message: &result.message, source: source)
        defer { cjpeg_free(result.pixels) }
        let width = Int(result.width), height = Int(result.height), channels = Int(result.channels)
        let pixels = [UInt8](UnsafeBufferPointer(start: result.pixels, count: width * height * channels))
        return Image(width: width, height: height, channels: channels, pixels: pixels)
    }

    /// Decodes a JPEG held in an array.
    public static func decode(_ bytes: [UInt8], minimumWidth: Int = 0, minimumHeight: Int = 0,
                              output: Output = .auto, source: String = "<memory>") throws -> Image {
        try bytes.withUnsafeBytes {
            try decode($0, minimumWidth: minimumWidth, minimumHeight: minimumHeight, output: output, source: source)
        }
    }

    /// Reads and decodes the file at `path`; errors name the path.
    public static func decode(contentsOf path: String, minimumWidth: Int = 0, minimumHeight: Int = 0,
                              output: Output = .auto) throws -> Image {
        try decode(FileBytes.read(path), minimumWidth: minimumWidth, minimumHeight: minimumHeight,
                   output: output, source: path)
    }

    /// Parses the header only (a cheap check that a file is a JPEG libjpeg accepts).
    public static func header(_ bytes: UnsafeRawBufferPointer, source: String = "<memory>") throws -> Header {
        try ImageFormat.require([.jpeg], in: bytes, source: source)
        var info = cjpeg_image()
        let status = cjpeg_read_header(bytes.baseAddress!.assumingMemoryBound(to: UInt8.self), bytes.count, &info)
        try check(status, message: &info.message, source: source)
        return Header(width: Int(info.source_width), height: Int(info.source_height),
                      components: Int(info.source_components), progressive: info.progressive != 0)
    }

    /// Parses the header of a JPEG held in an array.
    public static func header(_ bytes: [UInt8], source: String = "<memory>") throws -> Header {
        try bytes.withUnsafeBytes { try header($0, source: source) }
    }

    /// Reads the file at `path` and parses its header.
    public static func header(contentsOf path: String) throws -> Header {
        try header(FileBytes.read(path), source: path)
    }

    /// Encodes a gray or RGB image (baseline, or progressive; 4:2:0 chroma as libjpeg's default).
    public static func encode(_ image: Image, quality: Int = 90, progressive: Bool = false) throws -> [UInt8] {
        precondition((1...100).contains(quality), "JPEGDecoder.encode: quality \(quality) outside 1...100")
        var out = cjpeg_buffer()
        let status = image.pixels.withUnsafeBufferPointer {
            cjpeg_encode($0.baseAddress, Int32(image.width), Int32(image.height), Int32(image.channels),
                         Int32(quality), progressive ? 1 : 0, &out)
        }
        try check(status, message: &out.message, source: "<encoder>")
        defer { cjpeg_free(out.data) }
        return [UInt8](UnsafeBufferPointer(start: out.data, count: Int(out.size)))
    }

    private static func code(_ output: Output) -> Int32 {
        switch output {
        case .auto: return Int32(CJPEG_OUTPUT_AUTO)
        case .rgb: return Int32(CJPEG_OUTPUT_RGB)
        case .gray: return Int32(CJPEG_OUTPUT_GRAY)
        }
    }

    private static func check<M>(_ status: Int32, message: inout M, source: String) throws {
        if status == Int32(CJPEG_OK) { return }
        let text = ImageError.text(ofCMessage: &message)
        switch Int(status) {
        case Int(CJPEG_EMPTY): throw ImageError.empty(source: source)
        case Int(CJPEG_TRUNCATED): throw ImageError.truncated(source: source, format: .jpeg)
        default: throw ImageError.corrupt(source: source, format: .jpeg, reason: text)
        }
    }
}
