import Foundation
import Images
import TestSupport
import XCTest
import Tensors

/// Decoded pixels against Pillow's, from the JPEGs and pixels written by
/// scripts/images_make_fixtures.py. Both use libjpeg-turbo's integer IDCT and fancy upsampling, so
/// full-size decodes must match exactly; DCT-scaled decodes are allowed 2 levels (they have matched
/// exactly so far, but the scaled IDCTs are the likeliest place for versions to differ).
final class JPEGDecoderTests: XCTestCase {
    static func fixtureURL(_ name: String) -> URL {
        Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent(name)
    }

    func testDecodedPixelsMatchPillow() throws {
        let fixture = try loadFixture(Bundle.module.url(forResource: "jpeg", withExtension: "json",
                                                        subdirectory: "Fixtures"))
        let cases = try XCTUnwrap(fixture["cases"] as? [[String: Any]])
        XCTAssertGreaterThan(cases.count, 15)
        var kinds = Set<String>()
        var scaledWorst = 0
        for c in cases {
            let file = c["file"] as! String
            let minimum = c["minimum"] as! [Int]
            let output: JPEGDecoder.Output
            switch c["output"] as? String {
            case "rgb": output = .rgb
            case "gray": output = .gray
            default: output = .auto
            }
            let path = Self.fixtureURL("jpeg/" + file).path
            let image = try JPEGDecoder.decode(contentsOf: path, minimumWidth: minimum[0], minimumHeight: minimum[1],
                                               output: output)
            let expected = [UInt8](Data(base64Encoded: c["pixels"] as! String)!)
            let label = "\(file) min \(minimum) \(output)"
            XCTAssertEqual(image.width, c["width"] as? Int, label)
            XCTAssertEqual(image.height, c["height"] as? Int, label)
            XCTAssertEqual(image.channels, c["channels"] as? Int, label)
            guard image.pixels.count == expected.count else { XCTFail(label); continue }
            let tolerance = (c["scale"] as! Int) == 1 ? 0 : 2
            var worst = 0
            for i in 0..<expected.count { worst = max(worst, abs(Int(image.pixels[i]) - Int(expected[i]))) }
            XCTAssertLessThanOrEqual(worst, tolerance, label)
            kinds.insert("\(c["source_mode"]!)-\(c["progressive"] as! Bool)-\(c["scale"]!)\(output == .gray ? "-gray" : "")")
            if tolerance > 0 { scaledWorst = max(scaledWorst, worst) }
        }
        print("JPEG fixtures: largest difference from Pillow in DCT-scaled decodes: \(scaledWorst)")
        for kind in ["RGB-false-1", "RGB-true-1", "L-false-1", "L-true-1", "CMYK-false-1", "RGB-false-2",
                     "RGB-false-4", "RGB-false-8", "L-false-8", "RGB-false-1-gray", "CMYK-false-1-gray"] {
            XCTAssertTrue(kinds.contains(kind), "fixture kind \(kind) not exercised")
        }
    }

    func testHeader() throws {
        let header = try JPEGDecoder.header(contentsOf: Self.fixtureURL("jpeg/rgb_progressive.jpg").path)
        XCTAssertEqual(header, JPEGDecoder.Header(width: 37, height: 29, components: 3, progressive: true))
        XCTAssertEqual(try JPEGDecoder.header(contentsOf: Self.fixtureURL("jpeg/cmyk.jpg").path).components, 4)
    }

    func testBadInputsThrowTypedErrors() throws {
        let good = try FileBytes(Self.fixtureURL("jpeg/rgb_baseline.jpg"))
        func expect(_ bytes: [UInt8], _ check: (ImageError) -> Bool, _ label: String) {
            do {
                _ = try JPEGDecoder.decode(bytes, source: label)
                XCTFail("\(label): decoded")
            } catch let error as ImageError {
                XCTAssertTrue(check(error), "\(label): \(error)")
                XCTAssertFalse(error.description.contains("\n"))
            } catch {
                XCTFail("\(label): untyped \(error)")
            }
        }
        expect([], { if case .empty = $0 { return true }; return false }, "empty")
        expect(Array(good.prefix(good.count / 2)), { if case .truncated = $0 { return true }; return false }, "half")
        expect(Array(good.prefix(40)), { if case .corrupt = $0 { return true }; if case .truncated = $0 { return true }; return false }, "header only")
        var garbage = good
        for i in 2..<garbage.count { garbage[i] = UInt8(truncatingIfNeeded: i &* 7919) }
        expect(garbage, { if case .corrupt = $0 { return true }; return false }, "garbage after SOI")
        expect(try FileBytes(Self.fixtureURL("jpeg/png_named.jpg")), { $0 == .wrongFormat(source: "png", format: .png, expected: [.jpeg]) }, "png")
        expect(try FileBytes(Self.fixtureURL("jpeg/gif_named.jpg")), { $0 == .wrongFormat(source: "gif", format: .gif, expected: [.jpeg]) }, "gif")
        expect(Array("hello, world\n".utf8), { $0 == .wrongFormat(source: "text", format: .text, expected: [.jpeg]) }, "text")
        XCTAssertThrowsError(try JPEGDecoder.decode(contentsOf: "/nonexistent/x.jpg")) { error in
            XCTAssertEqual(error as? ImageError, .unreadable(source: "/nonexistent/x.jpg", reason: "No such file or directory"))
        }
        XCTAssertThrowsError(try JPEGDecoder.decode(contentsOf: NSTemporaryDirectory())) { error in
            guard case .unreadable = error as? ImageError else { return XCTFail("\(error)") }
        }
    }

    func testEncodeRoundTrip() throws {
        var rng = RandomStream(seed: 3)
        let w = 40, h = 24
        var pixels = [UInt8](repeating: 0, count: w * h * 3)
        for y in 0..<h { for x in 0..<w { for c in 0..<3 {
            pixels[(y * w + x) * 3 + c] = UInt8(clamping: (x * 5 + y * 3 * c + Int(rng.below(6))))
        } } }
        let image = Image(width: w, height: h, channels: 3, pixels: pixels)
        for progressive in [false, true] {
            let bytes = try JPEGDecoder.encode(image, quality: 95, progressive: progressive)
            XCTAssertEqual(try JPEGDecoder.header(bytes).progressive, progressive)
            let back = try JPEGDecoder.decode(bytes)
            XCTAssertEqual(back.width, w)
            var total = 0
            for i in 0..<pixels.count { total += abs(Int(back.pixels[i]) - Int(pixels[i])) }
            XCTAssertLessThan(Double(total) / Double(pixels.count), 3.0)
            let half = try JPEGDecoder.decode(bytes, minimumWidth: 20, minimumHeight: 12)
            XCTAssertEqual([half.width, half.height], [20, 12])
        }
        let gray = try JPEGDecoder.decode(JPEGDecoder.encode(image.converted(toChannels: 1)))
        XCTAssertEqual(gray.channels, 1)
    }
}

/// The bytes of a file in the test bundle.
func FileBytes(_ url: URL) throws -> [UInt8] { [UInt8](try Data(contentsOf: url)) }
