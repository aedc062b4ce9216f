import Foundation

/// A minimal PNG writer for 8-bit grayscale or RGB images: no filtering and "stored" (uncompressed)
/// deflate blocks, so it needs no zlib. Files are larger than compressed ones, which does not
/// matter for the small previews embedded in reports.
public enum PNGEncoder {
    /// The PNG bytes of `pixels`, row-major and interleaved (`[height, width, channels]`), with 1
    /// (gray) or 3 (RGB) channels.
    public static func encode(width: Int, height: Int, channels: Int, pixels: [UInt8]) -> Data {
        precondition(width > 0 && height > 0, "PNGEncoder: empty image \(width)x\(height)")
        precondition(channels == 1 || channels == 3, "PNGEncoder: \(channels) channels (1 or 3 supported)")
        precondition(pixels.count == width * height * channels,
                     "PNGEncoder: \(pixels.count) bytes for \(width)x\(height)x\(channels)")
        // Each scanline is preceded by its filter type, 0 (none).
        let rowBytes = width * channels
        var scanlines = [UInt8](repeating: 0, count: height * (rowBytes + 1))
        for row in 0..<height {
            scanlines.replaceSubrange((row * (rowBytes + 1) + 1)..<((row + 1) * (rowBytes + 1)),
                                      with: pixels[(row * rowBytes)..<((row + 1) * rowBytes)])
        }
        var out = Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        var header = bigEndian(UInt32(width)) + bigEndian(UInt32(height))
        header += [8, channels == 1 ? 0 : 2, 0, 0, 0]  // bit depth, colour type, compression, filter, interlace
        appendChunk("IHDR", header, to: &out)
        appendChunk("IDAT", zlibStored(scanlines), to: &out)
        appendChunk("IEND", [], to: &out)
        return out
    }

    /// A zlib stream of stored deflate blocks (at most 65535 bytes each) with its Adler-32.
    static func zlibStored(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [0x78, 0x01]  // deflate, 32K window, no dictionary, "fastest" level
        var start = 0
        repeat {
            let length = min(65535, bytes.count - start)
            let final: UInt8 = start + length == bytes.count ? 1 : 0
            out.append(final)  // BFINAL, BTYPE = 00 (stored)
            out += [UInt8(length & 0xFF), UInt8(length >> 8), UInt8(~length & 0xFF), UInt8((~length >> 8) & 0xFF)]
            out += bytes[start..<(start + length)]
            start += length
        } while start < bytes.count
        return out + bigEndian(adler32(bytes))
    }

    static func adler32(_ bytes: [UInt8]) -> UInt32 {
        var a: UInt32 = 1, b: UInt32 = 0
        var index = 0
        // 5552 is the most bytes that can be summed before b must be reduced to stay in 32 bits.
        while index < bytes.count {
            let end = min(index + 5552, bytes.count)
            for i in index..<end {
                a &+= UInt32(bytes[i])
                b &+= a
            }
            a %= 65521
            b %= 65521
            index = end
        }
        return (b << 16) | a
    }

    private static let crcTable: [UInt32] = (0..<256).map { n in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    /// CRC-32 (ISO 3309, as PNG and zlib use it).
    static func crc32<S: Sequence>(_ bytes: S) -> UInt32 where S.Element == UInt8 {
        var c: UInt32 = 0xFFFF_FFFF
        for byte in bytes { c = crcTable[Int((c ^ UInt32(byte)) & 0xFF)] ^ (c >> 8) }
        return c ^ 0xFFFF_FFFF
    }

    private static func appendChunk(_ type: String, _ body: [UInt8], to out: inout Data) {
        let typeBytes = Array(type.utf8)
        out.append(contentsOf: bigEndian(UInt32(body.count)))
        out.append(contentsOf: typeBytes)
        out.append(contentsOf: body)
        out.append(contentsOf: bigEndian(crc32(typeBytes + body)))
    }

    private static func bigEndian(_ v: UInt32) -> [UInt8] {
        [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)]
    }
}
