import Foundation
import Images
import TestSupport
@testable import Training
import XCTest

/// `EmbeddingExport`: the run page shows exported embeddings, sidecar fields are escaped, and
/// unlabelled rows get a legend entry (`simclr embed` itself is in EmbedCommandTests).
final class EmbedTests: XCTestCase {
    var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("embed-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: folder)
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
