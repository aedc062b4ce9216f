import Formats
import Foundation
import Images
import Tensors
import TestSupport
@testable import Training
import XCTest

/// `simclr embed` and `EmbeddingExport`: one row per image in the dataset's order, sidecars that
/// line up with the rows, a `.npy` NumPy reads, and a PCA plot.
final class EmbedTests: XCTestCase {
    var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("embed-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: folder)
    }

    func testCommandWritesOneRowPerImageInDatasetOrderWithSidecars() throws {
        let data = folder.appendingPathComponent("data")
        try ColourIDX.write(to: data, trainPerClass: 2, testPerClass: 4)
        let weights = folder.appendingPathComponent("encoder.safetensors")
        try TestEncoders.write(to: weights, prefix: "module.", classifier: true)
        let npy = folder.appendingPathComponent("out/emb.npy"), svg = folder.appendingPathComponent("out/emb.svg")
        let run = try ChildProcess.run(
            [try BuiltProduct.path("simclr"), "embed", "--weights", weights.path, "--data", data.path, "--split", "test",
             "--out", npy.path, "--plot", svg.path, "--batch-size", "5", "--threads", "1"],
            environment: BuiltProduct.plainEnvironment(), timeout: 120)
        XCTAssertEqual(run.status, 0, run.output)
        XCTAssertTrue(run.output.contains("12 x 32 float32"), run.output)

        let array = try NpyFile.read(contentsOf: npy)
        XCTAssertEqual(array.shape, [12, 32])
        let rows = try XCTUnwrap(array.floats)

        // The same encoder in this process, on the same split: row i is image i.
        let encoder = try EmbeddingEncoder(weights: weights.path, request: .init())
        let dataset = try openDataset(path: data.path, format: .idx, split: .test, options: encoder.datasetOptions)
        let (expected, labels) = try encoder.features(of: dataset, batchSize: 12)
        assertClose(rows, expected.array, rtol: 1e-5, atol: 1e-6)
        // Rows differ between images, so an order mix-up would show.
        XCTAssertNotEqual(Array(rows[0..<32]), Array(rows[32..<64]))

        let files = EmbeddingExport.Files(npy: npy)
        let labelLines = try String(contentsOf: files.labels, encoding: .utf8).split(separator: "\n").map { Int($0)! }
        XCTAssertEqual(labelLines, labels)
        XCTAssertEqual(labels, (0..<12).map { $0 % 3 })
        let pathLines = try String(contentsOf: files.paths, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        XCTAssertEqual(pathLines.count, 13)   // 12 rows and the final newline
        for i in 0..<12 {
            XCTAssertEqual(String(pathLines[i]), "\(dataset.source(at: i))\t\(labels[i])\t\(dataset.classNames[labels[i]])")
        }
        let classLines = try String(contentsOf: files.classes, encoding: .utf8).split(separator: "\n").map(String.init)
        XCTAssertEqual(classLines, dataset.classNames)
        let plot = try String(contentsOf: svg, encoding: .utf8)
        XCTAssertEqual(plot.components(separatedBy: "class=\"point\"").count - 1, 12)
        XCTAssertTrue(plot.contains("PC1 ("), plot.prefix(400).description)
    }

    func testExportedEmbeddingsAppearOnTheRunPage() throws {
        let run = folder.appendingPathComponent("run")
        try FileManager.default.createDirectory(at: run, withIntermediateDirectories: true)
        try Data(#"{"command": "embed", "data": null}"#.utf8).write(to: run.appendingPathComponent("config.json"))
        let dataset = SyntheticDataset(count: 9, classes: 3, size: 8)
        let features = randomTensor([9, 4], seed: 3)
        try EmbeddingExport.write(features: features, labels: dataset.labels, dataset: dataset,
                                  to: run.appendingPathComponent("embeddings.npy"))
        let page = try RunReport.page(runDirectory: run).html()
        XCTAssertTrue(page.contains("chart-embeddings"))
        XCTAssertFalse(page.contains("points are not coloured"))
        for name in dataset.classNames { XCTAssertTrue(page.contains(name), name) }
    }

    func testFieldsWithTabsNewlinesAndBackslashesAreEscaped() {
        XCTAssertEqual(EmbeddingExport.escaped("a/b c.jpg"), "a/b c.jpg")
        XCTAssertEqual(EmbeddingExport.escaped("a\tb\nc\\d\re"), "a\\tb\\nc\\\\d\\re")
    }

    func testUnlabelledRowsGetTheirOwnLegendEntry() {
        let features = randomTensor([6, 3], seed: 4)
        let plot = EmbeddingExport.scatterPlot(features: features, labels: [-1, -1, -1, -1, -1, -1], classNames: [],
                                               title: "t")
        XCTAssertEqual(plot.classNames, ["all images"])
        let mixed = EmbeddingExport.scatterPlot(features: features, labels: [0, 1, -1, 0, 1, -1], classNames: ["a", "b"],
                                                title: "t")
        XCTAssertEqual(mixed.classNames, ["a", "b", "unlabelled"])
        XCTAssertEqual(mixed.labels, [0, 1, 2, 0, 1, 2])
    }
}
