/// An 8-bit image: `pixels: [height, width, channels]` row-major with interleaved channels,
/// 1 (gray) or 3 (RGB) channels.
public struct Image: Equatable, Sendable {
    public let width: Int
    public let height: Int
    public let channels: Int
    public var pixels: [UInt8]

    /// An image holding `pixels: [height, width, channels]`.
    public init(width: Int, height: Int, channels: Int, pixels: [UInt8]) {
        precondition(width > 0 && height > 0, "Image: empty size \(width)x\(height)")
        precondition(channels == 1 || channels == 3, "Image: \(channels) channels (1 or 3 supported)")
        precondition(pixels.count == width * height * channels,
                     "Image: \(pixels.count) bytes for \(width)x\(height)x\(channels)")
        self.width = width
        self.height = height
        self.channels = channels
        self.pixels = pixels
    }

    /// A black image.
    public init(width: Int, height: Int, channels: Int) {
        self.init(width: width, height: height, channels: channels,
                  pixels: [UInt8](repeating: 0, count: width * height * channels))
    }

    public var byteCount: Int { pixels.count }

    /// The same picture with `channels` channels: gray is replicated into RGB; RGB becomes gray
    /// with ITU-R 601 luma in fixed point, as Pillow's `convert("L")`.
    public func converted(toChannels target: Int) -> Image {
        precondition(target == 1 || target == 3, "Image.converted: \(target) channels")
        if target == channels { return self }
        let n = width * height
        var out = [UInt8](repeating: 0, count: n * target)
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                if target == 3 {
                    for i in 0..<n {
                        let v = src[i]
                        dst[3 * i] = v; dst[3 * i + 1] = v; dst[3 * i + 2] = v
                    }
                } else {
                    for i in 0..<n {
                        let r = UInt32(src[3 * i]), g = UInt32(src[3 * i + 1]), b = UInt32(src[3 * i + 2])
                        dst[i] = UInt8((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16)
                    }
                }
            }
        }
        return Image(width: width, height: height, channels: target, pixels: out)
    }
}
