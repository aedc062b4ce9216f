import Foundation
import Images
import TestSupport
import XCTest

/// Decoded PNG pixels against Pillow's `convert("RGB")` and `convert("L")`, from the files and pixels
/// written by scripts/png_make_fixtures.py. Lossless, so every value must match exactly.
final class PNGDecoderTests: XCTestCase {
    static func fixture(_ name: String) -> String { JPEGDecoderTests.fixtureURL("png/" + name).path }

    func testDecodedPixelsMatchPillow() throws {
        let fixture = try loadFixture(Bundle.module.url(forResource: "png", withExtension: "json", subdirectory: "Fixtures"))
        let cases = try XCTUnwrap(fixture["cases"] as? [[String: Any]])
        var kinds = Set<String>()
        for c in cases {
            let file = c["file"] as! String
            let path = Self.fixture(file)
            let colorType = c["color_type"] as! Int, bitDepth = c["bit_depth"] as! Int
            for (output, key, channels) in [(ImageDecoder.Output.rgb, "rgb", 3), (.gray, "gray", 1)] {
                let image = try ImageDecoder.decode(contentsOf: path, output: output)
                let expected = [UInt8](Data(base64Encoded: c[key] as! String)!)
                XCTAssertEqual([image.width, image.height, image.channels],
                               [c["width"] as! Int, c["height"] as! Int, channels], "\(file) \(key)")
                XCTAssertEqual(image.pixels, expected, "\(file) \(key)")
            }
            let header = try PNGDecoder.header(FileBytes(URL(fileURLWithPath: path)), source: file)
            XCTAssertEqual([header.colorType, header.bitDepth], [colorType, bitDepth], file)
            XCTAssertEqual(header.interlaced, c["interlaced"] as? Bool, file)
            let auto = try ImageDecoder.decode(contentsOf: path)
            XCTAssertEqual(auto.channels, colorType & 2 == 0 ? 1 : 3, file)
            XCTAssertEqual(try ImageDecoder.header(contentsOf: path).isGray, auto.channels == 1, file)
            kinds.insert("\(colorType)-\(bitDepth)\(header.interlaced ? "-interlaced" : "")")
        }
        for kind in ["0-4", "0-8", "0-16", "4-8", "4-16", "2-8", "2-16", "6-8", "3-8", "3-4", "2-8-interlaced",
                     "3-8-interlaced"] {
            XCTAssertTrue(kinds.contains(kind), "fixture kind \(kind) not exercised")
        }
    }

    func testPNGNamedJPGDecodesByContent() throws {
        let path = JPEGDecoderTests.fixtureURL("jpeg/png_named.jpg").path
        let image = try ImageDecoder.decode(contentsOf: path)
        XCTAssertEqual([image.width, image.height, image.channels], [37, 29, 3])
        XCTAssertEqual(try ImageDecoder.header(contentsOf: path).format, .png)
        XCTAssertThrowsError(try JPEGDecoder.decode(contentsOf: path)) { error in
            XCTAssertEqual(error as? ImageError, .wrongFormat(source: path, format: .png, expected: [.jpeg]))
        }
    }

    func testBadPNGsThrowOneLineTypedErrors() throws {
        let good = try FileBytes(JPEGDecoderTests.fixtureURL("png/rgb8.png"))
        func expect(_ bytes: [UInt8], _ reason: String, _ label: String, header: Bool = false) {
            do {
                if header { _ = try ImageDecoder.header(bytes, source: label) } else { _ = try ImageDecoder.decode(bytes, source: label) }
                XCTFail("\(label): decoded")
            } catch let error as ImageError {
                XCTAssertTrue(error.reason.hasPrefix(reason), "\(label): \(error)")
                XCTAssertFalse(error.description.contains("\n"))
            } catch {
                XCTFail("\(label): untyped \(error)")
            }
        }
        expect(Array(good.prefix(good.count * 2 / 3)), "truncated PNG", "cut in the image data")
        expect(Array(good.prefix(20)), "truncated PNG", "cut in IHDR", header: true)
        expect(Self.corrupted(good), "corrupt PNG: ", "damaged image data")
        var badHeader = good
        badHeader[20] ^= 0xFF   // inside IHDR's width: its CRC no longer matches
        expect(badHeader, "corrupt PNG: IHDR: CRC error", "bad IHDR checksum", header: true)
        expect(try FileBytes(JPEGDecoderTests.fixtureURL("jpeg/gif_named.jpg")), "not a JPEG or PNG (GIF)", "gif")
    }

    /// A dataset skips and counts a truncated and a corrupt PNG, and keeps PNGs whatever their name.
    func testDatasetSkipsAndCountsBadPNGs() throws {
        let folder = TestFolder()
        let good = try FileBytes(JPEGDecoderTests.fixtureURL("png/rgb8.png"))
        folder.write("a.png", good)
        folder.write("b.jpg", try FileBytes(JPEGDecoderTests.fixtureURL("png/palette8.png")))
        folder.write("c.jpg", TestFolder.jpeg(1))
        folder.write("truncated.png", Array(good.prefix(good.count * 2 / 3)))
        folder.write("corrupt.png", Self.corrupted(good))
        XCTAssertEqual(try DatasetFormat.detect(path: folder.root), .folder)
        let log = SkipLog(printer: { _ in })
        let dataset = try UnlabelledFolderDataset(root: folder.root, validation: .decode, skipLog: log)
        XCTAssertEqual(dataset.paths.map { ($0 as NSString).lastPathComponent }, ["a.png", "b.jpg", "c.jpg"])
        XCTAssertEqual(log.count, 2)
        XCTAssertEqual(log.entries.map(\.reason).sorted().map { $0.prefix(13) }, ["corrupt PNG: ", "truncated PNG"])
        XCTAssertEqual(try dataset.image(at: 1).channels, 3)

        let pngOnly = TestFolder()
        pngOnly.write("x.png", good)
        XCTAssertEqual(try DatasetFormat.detect(path: pngOnly.root), .folder)
    }

    /// `png` with one byte of its first IDAT chunk's compressed data changed.
    static func corrupted(_ png: [UInt8]) -> [UInt8] {
        var bytes = png
        let idat = Array("IDAT".utf8)
        let at = (0 ..< bytes.count - 4).first { Array(bytes[$0 ..< $0 + 4]) == idat }!
        bytes[at + 6] ^= 0x55
        return bytes
    }
}
