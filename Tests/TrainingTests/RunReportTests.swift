import Formats
import Foundation
import Images
import Report
import TestSupport
@testable import Training
import XCTest

final class RunReportTests: XCTestCase {
    static let classNames = ["cat, large", "dog", "bird"]
    static let embeddingRows = 2500
    static let embeddingWidth = 8

    // MARK: The page of a complete run folder

    func testCompleteRunFolderHasEverySection() throws {
        let run = try makeRunFolder()
        let url = try RunReport.write(runDirectory: run)
        XCTAssertEqual(url.lastPathComponent, "index.html")
        let page = try PageTree(String(contentsOf: url, encoding: .utf8))

        XCTAssertEqual(page.sectionHeadings, ["Results", "Settings", "Training curves", "Classification report",
                                              "Confusion matrix", "Embeddings", "Augmented views", "Files"])
        XCTAssertEqual(page.text(of: page.elements(named: "h1")[0]), "\(run.lastPathComponent): pretrain")
        XCTAssertEqual(Set(page.chartIDs), ["chart-loss", "chart-contrastive-accuracy", "chart-lr", "chart-throughput",
                                            "chart-knn", "chart-epoch-loss", "chart-epoch-accuracy", "chart-epoch-lr",
                                            "chart-confusion", "chart-embeddings", "chart-augmentations"])

        // Results: summary.json flattened and rounded, then the result line of metrics.jsonl.
        let results = page.keyValues(inSection: "Results")
        XCTAssertEqual(results["linear_top1"], "0.8812")
        XCTAssertEqual(results["knn.top5"], "0.97")
        XCTAssertEqual(results["test_accuracy"], "0.875")
        // Settings: every key of config.json, nested ones dotted, values as written.
        let settings = page.keyValues(inSection: "Settings")
        XCTAssertEqual(settings["command"], "pretrain")
        XCTAssertEqual(settings["model.arch"], "resnet18")
        XCTAssertEqual(settings["model.mean"], "[0.5, 0.5, 0.5]")
        XCTAssertEqual(settings["data"], "null")
        XCTAssertEqual(settings["gradientCache"], "true")
        XCTAssertEqual(settings["optimizer.lr"], "0.3")
        XCTAssertEqual(settings["augmentation.size"], "32")

        // The loss chart holds the raw curve and its moving average; the k-NN chart top-1 and top-5.
        let lossSeries = page.descendants(of: page.chart("chart-loss")).filter { page.elements[$0].attributes["class"] == "series" }
        XCTAssertEqual(lossSeries.map { page.elements[$0].attributes["data-name"] }, ["loss", "EMA (span 2)"])
        let knnSeries = page.descendants(of: page.chart("chart-knn")).filter { page.elements[$0].attributes["class"] == "series" }
        XCTAssertEqual(knnSeries.count, 2)
        XCTAssertTrue(page.text(of: page.section("Training curves")).contains("1 line(s) of metrics.jsonl could not be read"))

        // The classification report as a table, classes in the file's order, then the summary rows.
        let reportRows = page.tableRows(inSection: "Classification report")
        XCTAssertEqual(reportRows.first, ["class", "precision", "recall", "f1-score", "support"])
        XCTAssertEqual(reportRows.dropFirst().map { $0[0] }, Self.classNames + ["accuracy", "macro avg", "weighted avg"])

        // Confusion matrix: one cell per pair; the quoted class name survived the CSV.
        let cells = page.descendants(of: page.chart("chart-confusion")).filter { page.elements[$0].attributes["class"] == "cell" }
        XCTAssertEqual(cells.count, 9)
        let rowLabels = page.descendants(of: page.chart("chart-confusion"))
            .filter { page.elements[$0].attributes["class"] == "row-label" }.map { page.text(of: $0) }
        XCTAssertEqual(rowLabels, Self.classNames)

        // Embeddings: subsampled to 2000 points, one legend entry per class.
        let embedding = page.descendants(of: page.chart("chart-embeddings"))
        XCTAssertEqual(embedding.filter { page.elements[$0].attributes["class"] == "point" }.count, EmbeddingProjection.maximumPoints)
        XCTAssertEqual(embedding.filter { page.elements[$0].attributes["class"] == "legend-entry" }.count, 3)

        // Augmented views: 8 samples x (original + 2 views), each an inline PNG.
        let tiles = page.descendants(of: page.chart("chart-augmentations")).filter { page.elements[$0].attributes["class"] == "tile" }
        XCTAssertEqual(tiles.count, 24)
        XCTAssertTrue(tiles.allSatisfy { page.elements[$0].attributes["href"]?.hasPrefix("data:image/png;base64,") == true })

        // Self-contained: nothing is fetched from elsewhere.
        let html = try String(contentsOf: url, encoding: .utf8)
        XCTAssertFalse(html.contains("<script"))
        let withoutNamespaces = html.replacingOccurrences(of: "http://www.w3.org/", with: "")
        XCTAssertFalse(withoutNamespaces.contains("http:") || withoutNamespaces.contains("https:"),
                       "only the SVG namespaces may name a URL")
    }

    func testOnlyConfigGivesOnlySettingsAndANote() throws {
        let run = try temporaryFolder()
        try writeJSON(["command": "finetune", "data": run.appendingPathComponent("no-such-data").path, "format": "auto",
                       "seed": 1], to: run.appendingPathComponent("config.json"))
        let page = try PageTree(RunReport.page(runDirectory: run).html())
        XCTAssertEqual(page.sectionHeadings, ["Settings", "Augmented views", "Files"])
        XCTAssertTrue(page.chartIDs.isEmpty)
        XCTAssertTrue(page.text(of: page.section("Augmented views")).contains("No examples: cannot open the dataset"))
    }

    func testMissingOrBrokenConfigIsAnError() throws {
        let run = try temporaryFolder()
        XCTAssertThrowsError(try RunReport.write(runDirectory: run)) { error in
            XCTAssertEqual(error as? RunReportError, .notARunFolder(path: run.path))
        }
        try Data("{\"command\": ".utf8).write(to: run.appendingPathComponent("config.json"))
        XCTAssertThrowsError(try RunReport.write(runDirectory: run)) { error in
            guard case .unreadableConfig? = error as? RunReportError else { return XCTFail("\(error)") }
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: run.appendingPathComponent("index.html").path))
    }

    func testUnreadableOptionalFilesBecomeNotes() throws {
        let run = try temporaryFolder()
        try writeJSON(["command": "pretrain", "data": NSNull()], to: run.appendingPathComponent("config.json"))
        try Data("not npy".utf8).write(to: run.appendingPathComponent("embeddings.npy"))
        try Data("a,b\nx,1,2\n".utf8).write(to: run.appendingPathComponent("confusion.csv"))
        try Data("{\"step\": 3, \"loss\"".utf8).write(to: run.appendingPathComponent("metrics.jsonl"))
        let page = try PageTree(RunReport.page(runDirectory: run).html())
        XCTAssertEqual(page.sectionHeadings, ["Settings", "Training curves", "Confusion matrix", "Embeddings",
                                              "Augmented views", "Files"])
        XCTAssertEqual(Set(page.chartIDs), ["chart-augmentations"])
        XCTAssertTrue(page.text(of: page.section("Embeddings")).contains("embeddings.npy"))
        XCTAssertTrue(page.text(of: page.section("Confusion matrix")).contains("row 2 has 3 fields"))
    }

    // MARK: The pieces

    func testMetricsLogSortsLinesAndSkipsBrokenOnes() {
        let log = MetricsLog(text: """
            {"step": 1, "epoch": 0, "loss": 5.0, "lr": 0.1}
            {"step": 2, "epoch": 0, "loss": null, "lr": 0.2}

            {"step": 2, "epoch": 0, "loss": 4.0, "lr": 0.2}
            {"step": 2, "epoch": 0, "knn_top1": 0.5}
            {"epoch": 1, "train_loss": 1.5, "val_loss": "NaN", "phase": "head"}
            {"test_accuracy": 0.75, "checkpoint": "final.safetensors"}
            {"step": 3, "loss": 3.
            """)
        XCTAssertEqual(log.steps.count, 4)
        XCTAssertEqual(log.epochs.count, 1)
        XCTAssertEqual(log.skippedLines, 1)
        XCTAssertEqual(log.results.map(\.key), ["checkpoint", "test_accuracy"])
        XCTAssertEqual(log.results.map(\.value), ["final.safetensors", "0.75"])
        // A step logged twice (a resumed run) keeps its later value.
        let loss = MetricsLog.series("loss", over: "step", in: log.steps)
        XCTAssertEqual(loss.x, [1, 2])
        XCTAssertEqual(loss.y, [5, 4])
        XCTAssertEqual(MetricsLog.series("knn_top1", over: "step", in: log.steps).y, [0.5])
        XCTAssertTrue(MetricsLog.series("val_loss", over: "epoch", in: log.epochs).y[0].isNaN)
    }

    func testLongCurvesAreThinnedKeepingTheEnds() {
        let xs = (0..<10_001).map(Double.init)
        let thinned = MetricsLog.thinned((xs, xs.map { $0 * 2 }), to: 2000)
        XCTAssertEqual(thinned.x.count, 2000)
        XCTAssertEqual(thinned.x.first, 0)
        XCTAssertEqual(thinned.x.last, 10_000)
        XCTAssertEqual(thinned.y, thinned.x.map { $0 * 2 })
        XCTAssertEqual(MetricsLog.thinned(([1, 2], [3, 4]), to: 2000).x, [1, 2])
    }

    func testMovingAverageIsDebiasedAndSkipsNaN() {
        // span 3: alpha 1/2, weights 1, 1/2, 1/4 ... (pandas ewm(span=3, adjust=True)).
        let smoothed = MetricsLog.smoothed([1, 2, .nan, 3], span: 3)
        XCTAssertEqual(smoothed[0], 1, accuracy: 1e-12)
        XCTAssertEqual(smoothed[1], (2 + 0.5) / 1.5, accuracy: 1e-12)
        XCTAssertTrue(smoothed[2].isNaN)
        XCTAssertEqual(smoothed[3], (3 + 1 + 0.25) / 1.75, accuracy: 1e-12)
    }

    func testClassificationReportTextAndJSONReadTheSame() throws {
        let report = ClassificationReport(trueLabels: [0, 0, 1, 1, 2, 2, 2], predictedLabels: [0, 1, 1, 1, 2, 0, 2],
                                          classNames: ["tabby cat", "dog", "2"])
        let fromJSON = try ClassificationReportTable(json: Data(report.json().utf8))
        let fromText = try ClassificationReportTable(text: report.text(digits: 4))
        XCTAssertEqual(fromJSON.rows, fromText.rows)
        XCTAssertEqual(fromJSON.rows.map { $0[0] }, ["tabby cat", "dog", "2", "accuracy", "macro avg", "weighted avg"])
        XCTAssertEqual(fromJSON.rows[3], ["accuracy", "", "", String(format: "%.4f", 5.0 / 7), "7"])
        XCTAssertThrowsError(try ClassificationReportTable(text: "nothing here\n"))
    }

    func testExampleSamplesCoverClasses() {
        XCTAssertEqual(AugmentationExamples.sampleIndices(labels: (0..<64).map { $0 % 4 }), Array(0..<8))
        let pets = (0..<370).map { $0 / 10 }  // 37 classes, sorted
        XCTAssertEqual(AugmentationExamples.sampleIndices(labels: pets).map { pets[$0] }, [0, 4, 9, 13, 18, 23, 27, 32])
        XCTAssertEqual(AugmentationExamples.sampleIndices(labels: [Int](repeating: -1, count: 80)), [0, 10, 20, 30, 40, 50, 60, 70])
        XCTAssertEqual(AugmentationExamples.sampleIndices(labels: [1, -1, 1, 0]), [3, 0, 2])
        XCTAssertEqual(AugmentationExamples.sampleIndices(labels: []), [])
    }

    func testConfusionCSVReadsWhatConfusionMatrixWrites() throws {
        let names = ["a,b", "say \"hi\"", "plain"]
        let matrix = ConfusionMatrix(trueLabels: [0, 1, 2, 2, 1], predictedLabels: [0, 2, 2, 1, 1], classCount: 3)
        let table = try ConfusionTable(csv: matrix.csv(classNames: names))
        XCTAssertEqual(table.rowNames, names)
        XCTAssertEqual(table.columnNames, names)
        XCTAssertEqual(table.values, matrix.counts.map(Double.init))
        XCTAssertEqual(ConfusionTable.records("x,\"1\r\n2\"\r\ny,3"), [["x", "1\r\n2"], ["y", "3"]])
    }

    func testAugmentedViewsAreUnnormalisedForDisplay() throws {
        // The same views drawn with and without normalisation look the same once un-normalised.
        let run = try makeRunFolder()
        let normalised = try AugmentationExamples(config: RunConfig(url: run.appendingPathComponent("config.json")))
        var plain = try JSONSerialization.jsonObject(with: Data(contentsOf: run.appendingPathComponent("config.json"))) as! [String: Any]
        var augmentation = try XCTUnwrap(plain["augmentation"] as? [String: Any])
        augmentation["normalization"] = ["mean": [0.0], "std": [1.0]]
        plain["augmentation"] = augmentation
        try writeJSON(plain, to: run.appendingPathComponent("config.json"))
        let reference = try AugmentationExamples(config: RunConfig(url: run.appendingPathComponent("config.json")))
        XCTAssertTrue(normalised.notes.isEmpty && reference.notes.isEmpty, "\(normalised.notes) \(reference.notes)")
        XCTAssertEqual(normalised.grid.images.count, 24)
        for (a, b) in zip(normalised.grid.images, reference.grid.images) {
            XCTAssertEqual(a.caption, b.caption)
            let worst = zip(a.pixels, b.pixels).map { abs(Int($0) - Int($1)) }.max() ?? 0
            XCTAssertLessThanOrEqual(worst, 1, "tile '\(a.caption)' differs by \(worst) levels")
        }
        // The 64 synthetic images cycle through 4 classes: the 8 samples show each twice.
        let originals = stride(from: 0, to: 24, by: 3).map { normalised.grid.images[$0].caption }
        XCTAssertEqual(Set(originals).count, 4, "\(originals)")
        // The two views of a sample differ from each other and from the original.
        XCTAssertNotEqual(normalised.grid.images[1].pixels, normalised.grid.images[2].pixels)
        XCTAssertNotEqual(normalised.grid.images[0].pixels, normalised.grid.images[1].pixels)
    }

    // MARK: A real browser

    func testChromiumRendersThePage() throws {
        guard let chromium = Self.findChromium() else {
            print("RunReportTests: no chromium binary on PATH (chromium, chromium-browser, google-chrome); skipping the browser check")
            throw XCTSkip("no chromium binary found")
        }
        let run = try makeRunFolder()
        let page = try RunReport.write(runDirectory: run)
        let profile = try temporaryFolder()
        let screenshot = profile.appendingPathComponent("page.png")
        let common = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars",
                      "--user-data-dir=" + profile.appendingPathComponent("profile").path]

        let dom = try Self.run(chromium, common + ["--dump-dom", page.absoluteString], timeout: 60)
        // The browser's own parse of the page: every chart survived as an SVG element.
        for id in ["chart-loss", "chart-knn", "chart-epoch-accuracy", "chart-confusion", "chart-embeddings", "chart-augmentations"] {
            XCTAssertTrue(dom.contains("<svg id=\"\(id)\""), "\(id) missing from the browser's DOM")
        }
        XCTAssertEqual(dom.components(separatedBy: "class=\"point\"").count - 1, EmbeddingProjection.maximumPoints)

        _ = try Self.run(chromium, common + ["--screenshot=" + screenshot.path, "--window-size=1200,3000", page.absoluteString],
                         timeout: 60)
        let png = try Data(contentsOf: screenshot)
        if let keep = ProcessInfo.processInfo.environment["RUN_REPORT_TEST_OUTPUT"] {
            let folder = URL(fileURLWithPath: keep)
            try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            for (source, name) in [(screenshot, "screenshot.png"), (page, "index.html")] {
                try? FileManager.default.removeItem(at: folder.appendingPathComponent(name))
                try FileManager.default.copyItem(at: source, to: folder.appendingPathComponent(name))
            }
        }
        // A PNG of the window's size; a blank white page compresses to a few kilobytes, this one
        // holds charts, a scatter of 2000 points and photos-like tiles.
        XCTAssertEqual(Array(png.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        XCTAssertEqual(Self.bigEndian(png, at: 16), 1200)
        XCTAssertEqual(Self.bigEndian(png, at: 20), 3000)
        XCTAssertGreaterThan(png.count, 100_000, "the screenshot is \(png.count) bytes: the page looks blank")
    }

    // MARK: Helpers

    static func findChromium() -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for name in ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"] {
            for folder in path.split(separator: ":") {
                let candidate = String(folder) + "/" + name
                if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            }
        }
        return nil
    }

    /// Runs `executable` and returns what it printed; fails when it exits with an error, or runs
    /// longer than `timeout` seconds.
    static func run(_ executable: String, _ arguments: [String], timeout: Double) throws -> String {
        let result = try ChildProcess.run([executable] + arguments, environment: ProcessInfo.processInfo.environment,
                                          timeout: timeout)
        guard result.status == 0 else {
            throw ReportFileError("\(executable) exited with status \(result.status)")
        }
        return result.output
    }

    static func bigEndian(_ data: Data, at offset: Int) -> Int {
        data.dropFirst(offset).prefix(4).reduce(0) { $0 << 8 | Int($1) }
    }

    func temporaryFolder() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("run-report-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }

    func writeJSON(_ object: [String: Any], to url: URL) throws {
        try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]).write(to: url)
    }

    /// A run folder with every file a pretraining and fine-tuning run can leave, the metrics ending
    /// in a line cut short.
    func makeRunFolder() throws -> URL {
        let run = try temporaryFolder()
        let augmentation = SimCLRAugmentation(size: 32, normalization: Normalization(mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25]))
        let encodedAugmentation = try JSONSerialization.jsonObject(with: JSONEncoder().encode(augmentation))
        try writeJSON([
            "command": "pretrain", "data": NSNull(), "format": "auto", "seed": 7, "gradientCache": true,
            "model": ["arch": "resnet18", "width": 1, "stem": "cifar", "inputChannels": 3, "imageSize": 32,
                      "mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]],
            "optimizer": ["name": "lars", "lr": 0.3],
            "augmentation": encodedAugmentation,
            "datasetOptions": ["syntheticCount": 64, "syntheticClasses": 4, "syntheticSize": 32],
        ], to: run.appendingPathComponent("config.json"))

        var lines: [String] = []
        for step in 1...40 {
            let loss = 6 * exp(-Double(step) / 20) + 0.1 * sin(Double(step))
            lines.append("{\"step\": \(step), \"epoch\": \((step - 1) / 10), \"loss\": \(loss), \"lr\": \(0.3 * Double(min(step, 10)) / 10), "
                         + "\"images_per_second\": \(800 + step % 7 * 10), \"accuracy\": \(Double(step) / 50)}")
            if step % 10 == 0 {
                lines.append("{\"step\": \(step), \"epoch\": \((step - 1) / 10), \"knn_top1\": \(0.3 + Double(step) / 100), "
                             + "\"knn_top5\": \(0.6 + Double(step) / 200)}")
            }
        }
        for epoch in 0..<5 {
            lines.append("{\"epoch\": \(epoch), \"train_loss\": \(1.5 - 0.2 * Double(epoch)), \"train_accuracy\": \(0.5 + 0.08 * Double(epoch)), "
                         + "\"val_loss\": \(1.6 - 0.15 * Double(epoch)), \"val_accuracy\": \(0.45 + 0.07 * Double(epoch)), \"lr\": \(epoch < 3 ? 0.001 : 0.0001)}")
        }
        lines.append("{\"test_accuracy\": 0.875}")
        lines.append("{\"step\": 41, \"epoch\": 4, \"lo")
        try Data(lines.joined(separator: "\n").utf8).write(to: run.appendingPathComponent("metrics.jsonl"))

        let trueLabels = [0, 0, 0, 1, 1, 1, 2, 2, 2, 2], predicted = [0, 0, 1, 1, 1, 2, 2, 2, 2, 0]
        let report = ClassificationReport(trueLabels: trueLabels, predictedLabels: predicted, classNames: Self.classNames)
        try report.writeText(to: run.appendingPathComponent("report.txt"))
        try report.writeJSON(to: run.appendingPathComponent("report.json"))
        try report.confusion.writeCSV(to: run.appendingPathComponent("confusion.csv"), classNames: Self.classNames)
        try writeJSON(["linear_top1": 0.881234, "knn": ["top1": 0.8, "top5": 0.97]], to: run.appendingPathComponent("summary.json"))

        // Three clusters in 8 dimensions, spread mostly along two directions.
        let n = Self.embeddingRows, d = Self.embeddingWidth
        var embeddings = [Float](repeating: 0, count: n * d)
        for i in 0..<n {
            let c = i % 3
            for j in 0..<d {
                let wobble = Float(sin(Double(i * (j + 3)))) * 0.3
                embeddings[i * d + j] = wobble + (j == c ? 3 : 0) + (j == 3 ? Float(i % 17) * 0.05 : 0)
            }
        }
        try NpyFile.write(floats: embeddings, shape: [n, d], to: run.appendingPathComponent("embeddings.npy"))
        try Data((0..<n).map { "\($0 % 3)\n" }.joined().utf8).write(to: run.appendingPathComponent("embeddings.labels.txt"))
        try Data(Self.classNames.map { $0 + "\n" }.joined().utf8).write(to: run.appendingPathComponent("embeddings.classes.txt"))
        return run
    }
}
