import CPNG

/// PNG decoding with libpng: the one place that calls libpng (through the CPNG shim, whose error
/// handler returns instead of exiting). Pixels come out as Pillow's `convert("RGB")` /
/// `convert("L")` gives them: palettes expanded, alpha and tRNS dropped, 16-bit samples cut to
/// their high byte (plain 16-bit gray is clipped to 255, as Pillow's I;16 -> L). Every failure is a
/// thrown `ImageError`.
public enum PNGDecoder {
    /// What the IHDR chunk says about a file.
    public struct Header: Equatable, Sendable {
        public var width: Int
        public var height: Int
        /// PNG colour type: 0 gray, 2 RGB, 3 palette, 4 gray+alpha, 6 RGBA.
        public var colorType: Int
        /// Bits per sample (per palette index for colour type 3): 1, 2, 4, 8 or 16.
        public var bitDepth: Int
        public var interlaced: Bool

        public init(width: Int, height: Int, colorType: Int, bitDepth: Int, interlaced: Bool) {
            self.width = width
            self.height = height
            self.colorType = colorType
            self.bitDepth = bitDepth
            self.interlaced = interlaced
        }

        /// Gray or gray+alpha: decoded with `.auto`, one channel.
        public var isGray: Bool { colorType & 2 == 0 }
    }

    /// Decodes a PNG held in memory; `.auto` keeps gray (and gray+alpha) files gray.
    public static func decode(_ bytes: UnsafeRawBufferPointer, output: ImageDecoder.Output = .auto,
                              source: String = "<memory>") throws -> Image {
        try ImageFormat.require([.png], in: bytes, source: source)
        var result = cpng_image()
        let status = cpng_decode(bytes.baseAddress!.assumingMemoryBound(to: UInt8.self), bytes.count,
                                 code(output), &result)
        try check(status, message: &result.message, source: source)
        defer { cpng_free(result.pixels) }
        let width = Int(result.width), height = Int(result.height), channels = Int(result.channels)
        let pixels = [UInt8](UnsafeBufferPointer(start: result.pixels, count: width * height * channels))
        return Image(width: width, height: height, channels: channels, pixels: pixels)
    }

    /// Decodes a PNG held in an array.
    public static func decode(_ bytes: [UInt8], output: ImageDecoder.Output = .auto,
                              source: String = "<memory>") throws -> Image {
        try bytes.withUnsafeBytes { try decode($0, output: output, source: source) }
    }

    /// Parses the chunks before the image data only (a cheap check that libpng accepts the file).
    public static func header(_ bytes: UnsafeRawBufferPointer, source: String = "<memory>") throws -> Header {
        try ImageFormat.require([.png], in: bytes, source: source)
        var info = cpng_image()
        let status = cpng_read_header(bytes.baseAddress!.assumingMemoryBound(to: UInt8.self), bytes.count, &info)
        try check(status, message: &info.message, source: source)
        return Header(width: Int(info.width), height: Int(info.height), colorType: Int(info.color_type),
                      bitDepth: Int(info.bit_depth), interlaced: info.interlaced != 0)
    }

    /// Parses the header of a PNG held in an array.
    public static func header(_ bytes: [UInt8], source: String = "<memory>") throws -> Header {
        try bytes.withUnsafeBytes { try header($0, source: source) }
    }

    private static func code(_ output: ImageDecoder.Output) -> Int32 {
        switch output {
        case .auto: return Int32(CPNG_OUTPUT_AUTO)
        case .rgb: return Int32(CPNG_OUTPUT_RGB)
        case .gray: return Int32(CPNG_OUTPUT_GRAY)
        }
    }

    private static func check<M>(_ status: Int32, message: inout M, source: String) throws {
        if status == Int32(CPNG_OK) { return }
        switch Int(status) {
        case Int(CPNG_EMPTY): throw ImageError.empty(source: source)
        case Int(CPNG_TRUNCATED): throw ImageError.truncated(source: source, format: .png)
        default: throw ImageError.corrupt(source: source, format: .png, reason: ImageError.text(ofCMessage: &message))
        }
    }
}
