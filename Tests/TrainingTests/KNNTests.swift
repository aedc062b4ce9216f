import Foundation
import Tensors
import TestSupport
@testable import Training
import XCTest

/// k-NN evaluation on handmade features (exact answers); `simclr knn` is in KNNCommandTests.
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
}
