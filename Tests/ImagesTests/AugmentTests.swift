import Foundation
import Images
import Tensors
import TestSupport
import XCTest

/// Augmentation primitives against NumPy / Pillow references from scripts/images_make_fixtures.py.
final class AugmentTests: XCTestCase {
    var fixture: [String: Any] = [:]
    var source: Image!

    override func setUpWithError() throws {
        fixture = try loadFixture(Bundle.module.url(forResource: "augment", withExtension: "json",
                                                    subdirectory: "Fixtures"))
        let shape = fixture["source_shape"] as! [Int]
        source = Image(width: shape[1], height: shape[0], channels: shape[2],
                       pixels: [UInt8](Data(base64Encoded: fixture["source"] as! String)!))
    }

    func testCropResizeMatchesNumPyAndPillow() {
        let scratch = AugmentScratch()
        for case let c as [String: Any] in fixture["resize"] as! [Any] {
            let box = c["box"] as! [Int], size = c["size"] as! [Int]
            var out = [Float](repeating: .nan, count: size[0] * size[1] * 3)
            Resampler.resize(source, box: .init(top: Double(box[0]), left: Double(box[1]), height: Double(box[2]),
                                                width: Double(box[3])),
                             outHeight: size[0], outWidth: size[1], into: &out, scratch: scratch)
            // Float32 weights against float64: a few ulps of 1.
            assertClose(out, floats(c["expected"]), rtol: 0, atol: 2e-6, "resize \(box) -> \(size)")
            // Pillow rounds to 8 bits after each pass: within one level.
            assertClose(out, floats(c["pillow"]), rtol: 0, atol: 1.01 / 255, "resize \(box) vs Pillow")
            var flipped = [Float](repeating: .nan, count: out.count)
            Resampler.resize(source, box: .init(top: Double(box[0]), left: Double(box[1]), height: Double(box[2]),
                                                width: Double(box[3])),
                             outHeight: size[0], outWidth: size[1], flip: true, into: &flipped, scratch: scratch)
            var mirrored = flipped
            for y in 0..<size[0] { for x in 0..<size[1] { for ch in 0..<3 {
                mirrored[(y * size[1] + x) * 3 + ch] = flipped[(y * size[1] + size[1] - 1 - x) * 3 + ch]
            } } }
            XCTAssertEqual(mirrored, out, "flip \(box)")
        }
    }

    func testEvaluationTransformMatchesResizeThenCentreCrop() {
        let e = fixture["evaluation"] as! [String: Any]
        let t = EvaluationTransform(size: e["crop"] as! Int, resizeShorterSide: e["resize"] as? Int)
        var out = [Float](repeating: .nan, count: t.size * t.size * 3)
        var random = RandomStream(seed: 0)
        t.apply(source, random: &random, into: &out, scratch: AugmentScratch())
        assertClose(out, floats(e["expected"]), rtol: 0, atol: 2e-6, "evaluation")
        assertClose(out, floats(e["pillow"]), rtol: 0, atol: 1.01 / 255, "evaluation vs Pillow")
    }

    func testEvaluationIsIdentityAtTargetSize() {
        let t = EvaluationTransform(size: 17, resizeShorterSide: 17)
        let square = Image(width: 17, height: 17, channels: 1, pixels: (0..<289).map { UInt8($0 % 256) })
        var out = [Float](repeating: .nan, count: 289)
        var random = RandomStream(seed: 0)
        t.apply(square, random: &random, into: &out, scratch: AugmentScratch())
        XCTAssertEqual(out, square.pixels.map { Float($0) / 255 })
        XCTAssertEqual(EvaluationTransform(size: 224).resizeShorterSide, 256)
        XCTAssertEqual(EvaluationTransform(size: 32).resizeShorterSide, 32)
    }

    func testColourOperationsMatchTorchvisionFormulas() {
        let colour = fixture["colour"] as! [String: Any]
        let image = floats(colour["image"])
        let pixels = image.count / 3
        func run(_ key: String, _ op: (UnsafeMutablePointer<Float>, Float) -> Void) {
            let entry = colour[key] as! [String: Any]
            var x = image
            op(&x, (entry["factor"] as! NSNumber).floatValue)
            assertClose(x, floats(entry["expected"]), rtol: 0, atol: 3e-6, key)
        }
        run("brightness") { ColorAdjust.brightness($0, pixels: pixels, channels: 3, factor: $1) }
        run("contrast") { ColorAdjust.contrast($0, pixels: pixels, channels: 3, factor: $1) }
        run("saturation") { ColorAdjust.saturation($0, pixels: pixels, factor: $1) }
        for case let entry as [String: Any] in colour["hue"] as! [Any] {
            var x = image
            ColorAdjust.hue(&x, pixels: pixels, factor: (entry["factor"] as! NSNumber).floatValue)
            assertClose(x, floats(entry["expected"]), rtol: 0, atol: 3e-6, "hue \(entry["factor"]!)")
        }
        var gray = image
        ColorAdjust.grayscale(&gray, pixels: pixels)
        assertClose(gray, floats(colour["grayscale"]), rtol: 0, atol: 1e-6, "grayscale")
        let g = colour["contrast_gray"] as! [String: Any]
        var one = floats(g["image"])
        ColorAdjust.contrast(&one, pixels: one.count, channels: 1, factor: (g["factor"] as! NSNumber).floatValue)
        assertClose(one, floats(g["expected"]), rtol: 0, atol: 3e-6, "contrast, 1 channel")
    }

    func testBlurAndNormalisation() {
        let b = fixture["blur"] as! [String: Any]
        var x = floats(b["image"])
        GaussianBlur.apply(&x, height: b["height"] as! Int, width: b["width"] as! Int, channels: 3,
                           kernelSize: b["kernel"] as! Int, sigma: (b["sigma"] as! NSNumber).floatValue,
                           scratch: AugmentScratch())
        assertClose(x, floats(b["expected"]), rtol: 0, atol: 2e-6, "blur")
        XCTAssertEqual(GaussianBlur.kernelSize(side: 224, fraction: 0.1), 23)
        XCTAssertEqual(GaussianBlur.kernelSize(side: 96, fraction: 0.1), 9)
        XCTAssertEqual(GaussianBlur.kernelSize(side: 2, fraction: 0.1), 3)

        let n = fixture["normalise"] as! [String: Any]
        var y = floats((fixture["colour"] as! [String: Any])["image"])
        Normalization(mean: floats(n["mean"]), std: floats(n["std"])).apply(&y, pixels: y.count / 3, channels: 3)
        assertClose(y, floats(n["expected"]), rtol: 1e-6, atol: 1e-6, "normalise")
        XCTAssertEqual(Normalization.imageNet, Normalization(mean: floats(n["mean"]), std: floats(n["std"])))
    }

    func testRandomResizedCropBoxes() {
        var random = RandomStream(seed: 5)
        var areas: [Float] = []
        for _ in 0..<400 {
            let b = RandomResizedCrop.box(width: 50, height: 40, scale: 0.08...1, ratio: 0.75...(4.0 / 3), random: &random)
            XCTAssertTrue(b.top >= 0 && b.left >= 0 && b.top + b.height <= 40 && b.left + b.width <= 50)
            areas.append(Float(b.width * b.height) / 2000)
        }
        XCTAssertLessThan(areas.min()!, 0.15)
        XCTAssertGreaterThan(areas.max()!, 0.9)
        // No box of ratio <= 4/3 fits a 100x2 strip: the centre-crop fallback.
        let strip = RandomResizedCrop.box(width: 100, height: 2, scale: 0.08...1, ratio: 0.75...(4.0 / 3), random: &random)
        XCTAssertTrue(strip == (0, 48, 2, 3), "\(strip)")
    }

    func testViewsAreDeterministicByKey() {
        var pixels = [UInt8](repeating: 0, count: 40 * 30 * 3)
        for i in 0..<pixels.count { pixels[i] = UInt8((i * 37 + i / 90) % 256) }
        let image = Image(width: 40, height: 30, channels: 3, pixels: pixels)
        var aug = SimCLRAugmentation(size: 16, normalization: .imageNet)
        aug.blurProbability = 0.5
        aug.solarizeProbability = 0.2
        func view(_ index: Int, _ v: Int) -> [Float] {
            var out = [Float](repeating: .nan, count: 16 * 16 * 3)
            var random = RandomStream(seed: 11, epoch: 2, index: index, view: v)
            aug.apply(image, random: &random, into: &out, scratch: AugmentScratch())
            return out
        }
        XCTAssertEqual(view(3, 0), view(3, 0))
        XCTAssertNotEqual(view(3, 0), view(3, 1))
        XCTAssertNotEqual(view(3, 0), view(4, 0))
        XCTAssertFalse(view(3, 1).contains { !$0.isFinite })
        let gray = image.converted(toChannels: 1)
        var out = [Float](repeating: .nan, count: 16 * 16)
        var random = RandomStream(seed: 1)
        aug.apply(gray, random: &random, into: &out, scratch: AugmentScratch())
        XCTAssertFalse(out.contains { !$0.isFinite })
    }

    func testConfigDefaultsAndCodable() throws {
        let big = SimCLRAugmentation(size: 224)
        XCTAssertEqual([big.jitterStrength, big.brightness, big.hue, big.blurProbability, big.jitterProbability,
                        big.grayscaleProbability, big.flipProbability], [1, 0.8, 0.2, 0.5, 0.8, 0.2, 0.5])
        let small = SimCLRAugmentation(size: 32)
        XCTAssertEqual([small.jitterStrength, small.saturation, small.blurProbability], [0.5, 0.4, 0])
        var custom = SimCLRAugmentation(size: 96, strength: 0.7, normalization: .imageNet)
        custom.solarizeProbability = 0.1
        let data = try JSONEncoder().encode(custom)
        XCTAssertEqual(try JSONDecoder().decode(SimCLRAugmentation.self, from: data), custom)
    }
}
