import Foundation
import TestSupport
import XCTest

/// `simclr knn` on a dataset whose classes any encoder tells apart.
final class KNNCommandTests: XCTestCase {
    /// `simclr knn` with a random encoder on colour classes: perfect, printed, and written to --out.
    func testCommandOnWellSeparatedClassesIsPerfect() throws {
        let folder = try temporaryFolder(self)
        let data = folder.appendingPathComponent("data")
        try ColourIDX.write(to: data, trainPerClass: 6, testPerClass: 3)
        let weights = folder.appendingPathComponent("encoder.safetensors")
        try TestEncoders.write(to: weights, prefix: "encoder.")
        let out = folder.appendingPathComponent("knn")
        let run = try ChildProcess.run(
            [try BuiltProduct.path("simclr"), "knn", "--weights", weights.path, "--data", data.path, "--k", "5",
             "--out", out.path, "--threads", "1"],
            environment: BuiltProduct.plainEnvironment(), timeout: 120)
        XCTAssertEqual(run.status, 0, run.output)
        XCTAssertTrue(run.output.contains("top-1 1.0000"), run.output)
        XCTAssertTrue(run.output.contains("top-5 1.0000"), run.output)
        XCTAssertTrue(run.output.contains("removed the prefix 'encoder.'"), run.output)
        XCTAssertTrue(run.output.contains("18 memory images"), run.output)
        let summary = try XCTUnwrap(JSONSerialization.jsonObject(
            with: Data(contentsOf: out.appendingPathComponent("summary.json"))) as? [String: Any])
        XCTAssertEqual(summary["knn_top1"] as? Double, 1)
        XCTAssertEqual(summary["query_images"] as? Int, 9)
        let config = try XCTUnwrap(JSONSerialization.jsonObject(
            with: Data(contentsOf: out.appendingPathComponent("config.json"))) as? [String: Any])
        XCTAssertEqual(config["command"] as? String, "knn")
        XCTAssertEqual((config["model"] as? [String: Any])?["imageSize"] as? Int, 16)
        let report = try String(contentsOf: out.appendingPathComponent("report.txt"), encoding: .utf8)
        XCTAssertTrue(report.contains("accuracy"), report)
    }
}
