import Foundation
import TestSupport
import XCTest

/// The defaults `simclr pretrain` writes into config.json for small and large images (the study of
/// scripts/study.sh chose the small-image ones), and that explicit options still win.
final class PretrainDefaultsTests: XCTestCase {
    var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("pretrain-defaults-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: folder)
    }

    /// One step of a tiny network on the synthetic set; returns the run's config.json.
    func config(imageSize: Int, batch: Int, extra: [String] = []) throws -> [String: Any] {
        let out = folder.appendingPathComponent("run-\(imageSize)-\(batch)-\(extra.count)")
        let command = [try BuiltProduct.path("simclr"), "pretrain", "--width", "0.0625", "--image-size", String(imageSize),
                       "--batch-size", String(batch), "--epochs", "1", "--steps", "1", "--proj-hidden", "8",
                       "--proj-dim", "4", "--threads", "1", "--out", out.path] + extra
        let result = try ChildProcess.run(command, environment: BuiltProduct.plainEnvironment(), timeout: 300)
        XCTAssertEqual(result.status, 0, result.output)
        let data = try Data(contentsOf: out.appendingPathComponent("config.json"))
        return try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    func augmentation(_ config: [String: Any]) -> [String: Any] {
        (config["augmentation"] as? [String: Any]) ?? [:]
    }

    func cropScale(_ config: [String: Any]) -> [Double] {
        (augmentation(config)["cropScale"] as? [Double]) ?? []
    }

    func testSmallImagesUseTheSquareRootRateAndMilderCrops() throws {
        let c = try config(imageSize: 16, batch: 16)
        XCTAssertEqual(c["optimizer"] as? String, "lars")
        XCTAssertEqual(try XCTUnwrap(c["lr"] as? Double), 0.075 * 4, accuracy: 1e-6)   // 0.075 sqrt(16)
        XCTAssertEqual(try XCTUnwrap(c["temperature"] as? Double), 0.2, accuracy: 1e-6)
        XCTAssertEqual(cropScale(c), [0.3, 1.0])
        XCTAssertEqual(try XCTUnwrap(augmentation(c)["jitterStrength"] as? Double), 1, accuracy: 1e-6)
        XCTAssertEqual(augmentation(c)["blurProbability"] as? Double, 0)
    }

    func testLargeImagesKeepSimCLRsLinearRateAndCrops() throws {
        let c = try config(imageSize: 72, batch: 4)
        XCTAssertEqual(try XCTUnwrap(c["lr"] as? Double), 0.3 * 4 / 256, accuracy: 1e-7)
        XCTAssertEqual(try XCTUnwrap(c["temperature"] as? Double), 0.1, accuracy: 1e-6)
        XCTAssertEqual(cropScale(c).first ?? 0, 0.08, accuracy: 1e-6)
    }

    func testExplicitOptionsWin() throws {
        let c = try config(imageSize: 16, batch: 16, extra: ["--lr", "0.05", "--crop-scale", "0.5", "--strength", "0.5",
                                                               "--temperature", "0.5"])
        XCTAssertEqual(try XCTUnwrap(c["lr"] as? Double), 0.05, accuracy: 1e-7)
        XCTAssertEqual(try XCTUnwrap(augmentation(c)["jitterStrength"] as? Double), 0.5, accuracy: 1e-6)
        XCTAssertEqual(try XCTUnwrap(c["temperature"] as? Double), 0.5, accuracy: 1e-6)
        XCTAssertEqual(cropScale(c), [0.5, 1.0])
    }

    func testACropScaleOutsideTheUnitIntervalIsOneClearError() throws {
        let command = [try BuiltProduct.path("simclr"), "pretrain", "--crop-scale", "1.5",
                       "--out", folder.appendingPathComponent("bad").path]
        let result = try ChildProcess.run(command, environment: BuiltProduct.plainEnvironment(), timeout: 60)
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.output.contains("--crop-scale must be in (0, 1]"), result.output)
    }
}
