import Foundation
import XCTest
@testable import Formats

/// PNGEncoder's bytes: against a reference file, and decoded by hand.
final class PNGEncoderTests: XCTestCase {
    /// Our PNG bytes equal a PNG assembled by Python's zlib (level 0) and checked by Pillow.
    func testPNGMatchesReferenceBytes() throws {
        let cases = try XCTUnwrap(try formatsReference()["png"] as? [[String: Any]])
        for c in cases {
            let (w, h, ch) = (c["width"] as! Int, c["height"] as! Int, c["channels"] as! Int)
            let pixels = (c["pixels"] as! [Int]).map(UInt8.init)
            let expected = try XCTUnwrap(Data(base64Encoded: c["png"] as! String))
            XCTAssertEqual(PNGEncoder.encode(width: w, height: h, channels: ch, pixels: pixels), expected, "\(w)x\(h)x\(ch)")
        }
    }

    /// A large image (several stored blocks) decodes back to its pixels with valid CRCs and Adler-32.
    func testPNGDecodesToInputAcrossManyBlocks() throws {
        let (w, h) = (160, 150)  // 150 rows of 481 bytes: 72150 bytes, two stored blocks
        let pixels = (0..<(w * h * 3)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 / 7) }
        let png = [UInt8](PNGEncoder.encode(width: w, height: h, channels: 3, pixels: pixels))
        XCTAssertEqual(Array(png.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        var offset = 8
        var chunks: [(String, [UInt8])] = []
        while offset < png.count {
            let length = png[offset..<(offset + 4)].reduce(0) { $0 << 8 | Int($1) }
            let type = Array(png[(offset + 4)..<(offset + 8)])
            let body = Array(png[(offset + 8)..<(offset + 8 + length)])
            let crc = png[(offset + 8 + length)..<(offset + 12 + length)].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            XCTAssertEqual(crc, Self.referenceCRC32(type + body))
            chunks.append((String(decoding: type, as: UTF8.self), body))
            offset += 12 + length
        }
        XCTAssertEqual(chunks.map(\.0), ["IHDR", "IDAT", "IEND"])
        XCTAssertEqual(chunks[0].1, [0, 0, 0, 160, 0, 0, 0, 150, 8, 2, 0, 0, 0])
        // Inflate the stored blocks by hand.
        let z = chunks[1].1
        XCTAssertEqual(Array(z.prefix(2)), [0x78, 0x01])
        XCTAssertEqual((UInt16(z[0]) << 8 | UInt16(z[1])) % 31, 0, "zlib header check bits")
        var position = 2, raw: [UInt8] = [], blocks = 0, final = false
        while !final {
            final = z[position] & 1 == 1
            XCTAssertEqual(z[position] >> 1, 0, "stored block")
            let length = Int(z[position + 1]) | Int(z[position + 2]) << 8
            let complement = Int(z[position + 3]) | Int(z[position + 4]) << 8
            XCTAssertEqual(length ^ complement, 0xFFFF)
            raw += z[(position + 5)..<(position + 5 + length)]
            position += 5 + length
            blocks += 1
        }
        XCTAssertEqual(blocks, 2)
        var a = 1, b = 0
        for byte in raw { a = (a + Int(byte)) % 65521; b = (b + a) % 65521 }
        XCTAssertEqual(Array(z[position...]), [UInt8(b >> 8), UInt8(b & 0xFF), UInt8(a >> 8), UInt8(a & 0xFF)])
        var decoded: [UInt8] = []
        let stride = w * 3 + 1
        for row in 0..<h {
            let start = row * stride
            XCTAssertEqual(raw[start], 0, "filter type none")
            decoded.append(contentsOf: raw[(start + 1)..<(start + stride)])
        }
        XCTAssertEqual(decoded, pixels)
    }

    /// Bitwise CRC-32, independent of the encoder's table.
    private static func referenceCRC32(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = (crc >> 1) ^ (crc & 1 == 1 ? 0xEDB8_8320 : 0) }
        }
        return ~crc
    }
}
