import Formats
import Foundation
import Images
import Tensors
import TestSupport
@testable import Training
import XCTest

/// A labelled IDX dataset (MNIST's file layout, RGB) whose three classes are images dominated by red,
/// green or blue with noise: classes far apart for any encoder.
enum ColourIDX {
    static let side = 16

    /// Writes `train-*` and `t10k-*` files into `folder`; labels cycle 0, 1, 2.
    static func write(to folder: URL, trainPerClass: Int, testPerClass: Int) throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for (prefix, perClass, seed) in [("train", trainPerClass, UInt64(1)), ("t10k", testPerClass, UInt64(2))] {
            let n = 3 * perClass
            var random = RandomStream(seed: seed, index: 0)
            var images: [UInt8] = [0, 0, 8, 4] + [n, side, side, 3].flatMap(bigEndian)
            var labels: [UInt8] = [0, 0, 8, 1] + bigEndian(n)
            for i in 0..<n {
                let label = i % 3
                labels.append(UInt8(label))
                for _ in 0..<(side * side) {
                    for c in 0..<3 {
                        let base: Float = c == label ? 200 : 40
                        images.append(UInt8(max(0, min(255, base + random.uniform(-35, 35)))))
                    }
                }
            }
            try Data(images).write(to: folder.appendingPathComponent("\(prefix)-images-idx3-ubyte"))
            try Data(labels).write(to: folder.appendingPathComponent("\(prefix)-labels-idx1-ubyte"))
        }
    }

    static func bigEndian(_ v: Int) -> [UInt8] {
        [UInt8(v >> 24 & 0xff), UInt8(v >> 16 & 0xff), UInt8(v >> 8 & 0xff), UInt8(v & 0xff)]
    }
}

/// k-NN evaluation: on handmade features (exact answers), and through `simclr knn`.
final class KNNTests: XCTestCase {
    var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("knn-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: folder)
    }

    /// Rows around one of `centres` (an axis each) with small noise; label = centre.
    func clusters(_ labels: [Int], dimension: Int = 6, seed: UInt64) -> Tensor {
        let t = Tensor(zeros: [labels.count, dimension])
        var random = RandomStream(seed: seed, index: 0)
        for (i, y) in labels.enumerated() {
            for j in 0..<dimension { t[i * dimension + j] = 0.1 * random.normal() }
            t[i * dimension + y] += 3
        }
        return t
    }

    func testSeparatedClustersAreClassifiedPerfectlyAndReportsWritten() throws {
        let memoryLabels = (0..<30).map { $0 % 3 }, queryLabels = (0..<12).map { $0 % 3 }
        let names = ["cat", "dog", "fox"]
        let result = try KNNEvaluation.evaluate(memory: (clusters(memoryLabels, seed: 1), memoryLabels),
                                                queries: (clusters(queryLabels, seed: 2), queryLabels),
                                                classNames: names, k: 5, temperature: 0.07)
        XCTAssertEqual(result.top1, 1)
        XCTAssertEqual(result.top5, 1)
        XCTAssertEqual(result.report.accuracy, 1)
        XCTAssertEqual(result.report.meanPerClassAccuracy, 1)
        XCTAssertEqual(result.queryCount, 12)

        let out = folder.appendingPathComponent("knn")
        try result.write(to: out, settings: ["weights": "w.safetensors", "data": NSNull(), "format": "auto"])
        for name in ["report.txt", "report.json", "confusion.csv", "summary.json", "config.json"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: out.appendingPathComponent(name).path), name)
        }
        let summary = try XCTUnwrap(JSONSerialization.jsonObject(
            with: Data(contentsOf: out.appendingPathComponent("summary.json"))) as? [String: Any])
        XCTAssertEqual(summary["knn_top1"] as? Double, 1)
        XCTAssertEqual(summary["k"] as? Int, 5)
        let report = try XCTUnwrap(JSONSerialization.jsonObject(
            with: Data(contentsOf: out.appendingPathComponent("report.json"))) as? [String: Any])
        XCTAssertEqual((report["dog"] as? [String: Any])?["support"] as? Double, 4)
        // The folder is a run folder the summary page can show.
        let page = try RunReport.page(runDirectory: out).html()
        XCTAssertTrue(page.contains("Classification report"))
        XCTAssertTrue(page.contains("chart-confusion"))

        // A second evaluation may overwrite its own folder, never another command's.
        XCTAssertNoThrow(try result.write(to: out, settings: [:]))
        let pretrainRun = folder.appendingPathComponent("run")
        try FileManager.default.createDirectory(at: pretrainRun, withIntermediateDirectories: true)
        try Data(#"{"command": "pretrain"}"#.utf8).write(to: pretrainRun.appendingPathComponent("config.json"))
        XCTAssertThrowsError(try result.write(to: pretrainRun, settings: [:])) {
            XCTAssertTrue("\($0)".contains("holds another run"), "\($0)")
        }
    }

    func testAQueryAmongAnotherClassIsMisclassified() throws {
        let memoryLabels = (0..<30).map { $0 % 3 }
        // The last query sits in class 2's cluster but is labelled 0.
        let queryFeatures = clusters([0, 1, 2, 0, 1, 2, 2], seed: 3)
        let queryLabels = [0, 1, 2, 0, 1, 2, 0]
        let result = try KNNEvaluation.evaluate(memory: (clusters(memoryLabels, seed: 1), memoryLabels),
                                                queries: (queryFeatures, queryLabels),
                                                classNames: ["a", "b", "c"], k: 5)
        XCTAssertEqual(result.top1, 6.0 / 7, accuracy: 1e-12)
        XCTAssertEqual(result.top5, 1)   // three classes: all of them are in the top five
        XCTAssertEqual(result.report.confusion[0, 2], 1)
        XCTAssertEqual(result.report.meanPerClassAccuracy, (2.0 / 3 + 1 + 1) / 3, accuracy: 1e-12)
    }

    func testUnlabelledDataAndTooFewMemoryImagesAreErrors() throws {
        let labels = [0, 1, 0, 1]
        XCTAssertThrowsError(try KNNEvaluation.evaluate(memory: (clusters(labels, seed: 1), labels),
                                                        queries: (clusters([0, 1], seed: 2), [-1, 1]),
                                                        classNames: ["a", "b"], k: 2)) {
            XCTAssertTrue("\($0)".contains("needs labelled data"), "\($0)")
        }
        XCTAssertThrowsError(try KNNEvaluation.evaluate(memory: (clusters(labels, seed: 1), labels),
                                                        queries: (clusters([0, 1], seed: 2), [0, 1]),
                                                        classNames: ["a", "b"], k: 5)) {
            XCTAssertTrue("\($0)".contains("--k 5 exceeds the 4 images"), "\($0)")
        }
    }

    /// `simclr knn` with a random encoder on colour classes: perfect, printed, and written to --out.
    func testCommandOnWellSeparatedClassesIsPerfect() throws {
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
