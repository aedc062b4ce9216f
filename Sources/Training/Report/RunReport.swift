import Foundation
import Report

/// The summary page of a run folder, `RUN_DIR/index.html`: results, settings, training curves, the
/// classification report and confusion matrix, a PCA map of the embeddings and examples of the
/// augmented views. One self-contained file (inline SVG, images as data URIs, no scripts or network).
///
/// Only `config.json` is required; every other section appears when its file does (see
/// `page(runDirectory:)`), and an optional file that cannot be read becomes a note on the page
/// rather than an error.
///
/// ```swift
/// let page = try RunReport.write(runDirectory: URL(fileURLWithPath: "runs/pets-simclr"))
/// print("report: \(page.path)")
/// ```
public enum RunReport {
    /// The page's file name inside the run folder.
    public static let fileName = "index.html"

    /// Writes the page to `runDirectory/index.html` (atomically) and returns its URL. Throws a
    /// `RunReportError` when the folder has no readable `config.json`.
    @discardableResult
    public static func write(runDirectory: URL) throws -> URL {
        let url = runDirectory.appendingPathComponent(fileName)
        try page(runDirectory: runDirectory).write(to: url)
        return url
    }

    /// The page of the run in `runDirectory`. Sections, each present only when its source is:
    /// Results (`summary.json`, result lines of `metrics.jsonl`), Settings (`config.json`),
    /// Training curves (`metrics.jsonl`), Classification report (`report.json` or `report.txt`),
    /// Confusion matrix (`confusion.csv`), Embeddings (`embeddings.npy`), Augmented views (the
    /// dataset `config.json` names), Files. Charts are `<svg>` elements with an `id`:
    /// `chart-loss`, `chart-contrastive-accuracy`, `chart-lr`, `chart-throughput`, `chart-knn`,
    /// `chart-epoch-loss`, `chart-epoch-accuracy`, `chart-epoch-lr`, `chart-confusion`,
    /// `chart-embeddings`, `chart-augmentations`.
    public static func page(runDirectory: URL) throws -> HTMLPage {
        let config = try RunConfig(url: runDirectory.appendingPathComponent("config.json"))
        let metrics = (try? String(contentsOf: runDirectory.appendingPathComponent("metrics.jsonl"), encoding: .utf8))
            .map(MetricsLog.init(text:))
        let name = runDirectory.standardizedFileURL.lastPathComponent
        var page = HTMLPage(title: config.command.map { "\(name): \($0)" } ?? name)
        page.paragraph("Data: " + (config.dataPath.map { "\($0) (format \(config.format.rawValue))" } ?? "the built-in synthetic set"))

        results(runDirectory, metrics, into: &page)
        page.section("Settings") { $0.keyValueTable(config.settings) }
        if let metrics { curves(metrics, into: &page) }
        classificationReport(runDirectory, into: &page)
        confusion(runDirectory, into: &page)
        embeddings(runDirectory, into: &page)
        augmentations(config, into: &page)
        files(runDirectory, into: &page)
        return page
    }

    private static func exists(_ directory: URL, _ name: String) -> Bool {
        FileManager.default.fileExists(atPath: directory.appendingPathComponent(name).path)
    }

    /// `svg` with an `id` on its root element, so the page can be checked and linked into.
    static func tagged(_ svg: String, id: String) -> String {
        guard let root = svg.range(of: "<svg ") else { return svg }
        return svg.replacingCharacters(in: root, with: "<svg id=\"\(id)\" ")
    }

    private static func results(_ directory: URL, _ metrics: MetricsLog?, into page: inout HTMLPage) {
        var rows: [(key: String, value: String)] = []
        var notes: [String] = []
        if exists(directory, "summary.json") {
            let url = directory.appendingPathComponent("summary.json")
            if let data = try? Data(contentsOf: url), let parsed = try? JSONSerialization.jsonObject(with: data),
               let object = parsed as? [String: Any] {
                rows += JSONDisplay.flatten(object, format: JSONDisplay.result)
            } else {
                notes.append("summary.json could not be read as a JSON object")
            }
        }
        rows += metrics?.results ?? []
        guard !rows.isEmpty || !notes.isEmpty else { return }
        page.section("Results") { section in
            if !rows.isEmpty { section.keyValueTable(rows) }
            for note in notes { section.paragraph(note) }
        }
    }

    /// A chart 900 pixels wide cannot show more points than this; a long run's every step would
    /// only make the page heavy.
    static let maximumCurvePoints = 2000

    private static func curves(_ metrics: MetricsLog, into page: inout HTMLPage) {
        var charts: [String] = []
        func chart(_ id: String, _ title: String, x: String, y: String, logY: Bool = false,
                   _ series: [(name: String, points: (x: [Double], y: [Double]))], smooth: Bool = false) {
            let present = series.filter { !$0.points.x.isEmpty }
            guard !present.isEmpty else { return }
            var chart = LineChart(title: title, xLabel: x, yLabel: y, logY: logY)
            chart.width = 900
            chart.height = 340
            for s in present {
                let shown = MetricsLog.thinned(s.points, to: maximumCurvePoints)
                chart.add(s.name, x: shown.x, y: shown.y)
            }
            if smooth, present.count == 1, present[0].points.y.count >= 10 {
                // Smoothed over every point, then thinned like the raw curve.
                let points = present[0].points
                let span = max(2, (Double(points.y.count) / 25).rounded())
                let average = MetricsLog.thinned((points.x, MetricsLog.smoothed(points.y, span: span)), to: maximumCurvePoints)
                chart.add("EMA (span \(Int(span)))", x: average.x, y: average.y)
            }
            charts.append(tagged(chart.svg(), id: id))
        }
        let steps = metrics.steps, epochs = metrics.epochs
        func bySteps(_ key: String) -> (x: [Double], y: [Double]) { MetricsLog.series(key, over: "step", in: steps) }
        func byEpochs(_ key: String) -> (x: [Double], y: [Double]) { MetricsLog.series(key, over: "epoch", in: epochs) }

        chart("chart-loss", "Training loss", x: "step", y: "loss", [("loss", bySteps("loss"))], smooth: true)
        chart("chart-contrastive-accuracy", "Contrastive accuracy (positive pair ranked first)", x: "step", y: "accuracy",
              [("accuracy", bySteps("accuracy"))], smooth: true)
        chart("chart-lr", "Learning rate", x: "step", y: "learning rate", [("lr", bySteps("lr"))])
        chart("chart-throughput", "Throughput", x: "step", y: "images / s",
              [("images/s", bySteps("images_per_second"))], smooth: true)
        chart("chart-knn", "k-NN accuracy (monitor)", x: "step", y: "accuracy",
              [("top-1", bySteps("knn_top1")), ("top-5", bySteps("knn_top5"))])
        chart("chart-epoch-loss", "Loss per epoch", x: "epoch", y: "loss",
              [("train", byEpochs("train_loss")), ("validation", byEpochs("val_loss"))])
        chart("chart-epoch-accuracy", "Accuracy per epoch", x: "epoch", y: "accuracy",
              [("train", byEpochs("train_accuracy")), ("validation", byEpochs("val_accuracy"))])
        let epochLR = byEpochs("lr")
        chart("chart-epoch-lr", "Learning rate per epoch", x: "epoch", y: "learning rate",
              logY: epochLR.y.allSatisfy { $0 > 0 }, [("lr", epochLR)])

        guard !charts.isEmpty || metrics.skippedLines > 0 else { return }
        page.section("Training curves") { section in
            for svg in charts { section.svg(svg) }
            if metrics.skippedLines > 0 {
                section.paragraph("\(metrics.skippedLines) line(s) of metrics.jsonl could not be read and were skipped "
                                  + "(a run stopped while writing leaves a truncated last line).")
            }
        }
    }

    private static func classificationReport(_ directory: URL, into page: inout HTMLPage) {
        let hasJSON = exists(directory, "report.json"), hasText = exists(directory, "report.txt")
        guard hasJSON || hasText else { return }
        var table: ClassificationReportTable?
        var notes: [String] = []
        if hasJSON {
            do {
                table = try ClassificationReportTable(json: Data(contentsOf: directory.appendingPathComponent("report.json")))
            } catch {
                notes.append("report.json could not be read: \(error)")
            }
        }
        if table == nil, hasText {
            do {
                table = try ClassificationReportTable(
                    text: String(contentsOf: directory.appendingPathComponent("report.txt"), encoding: .utf8))
            } catch {
                notes.append("report.txt could not be read: \(error)")
            }
        }
        page.section("Classification report") { section in
            if let table { section.table(header: ClassificationReportTable.header, rows: table.rows) }
            for note in notes { section.paragraph(note) }
            if hasText { section.link("report.txt", href: "report.txt") }
            if hasJSON { section.link("report.json", href: "report.json") }
        }
    }

    private static func confusion(_ directory: URL, into page: inout HTMLPage) {
        guard exists(directory, "confusion.csv") else { return }
        let content: String
        do {
            let table = try ConfusionTable(
                csv: String(contentsOf: directory.appendingPathComponent("confusion.csv"), encoding: .utf8))
            let heatmap = Heatmap(title: "Confusion matrix (shaded by share of the true class)", rowAxisLabel: "true class",
                                  columnAxisLabel: "predicted class", rowLabels: table.rowNames,
                                  columnLabels: table.columnNames, values: table.values, shadeByRow: true)
            content = tagged(heatmap.svg(), id: "chart-confusion")
        } catch {
            page.section("Confusion matrix") { $0.paragraph("confusion.csv could not be read: \(error)") }
            return
        }
        page.section("Confusion matrix") { $0.svg(content) }
    }

    private static func embeddings(_ directory: URL, into page: inout HTMLPage) {
        guard exists(directory, "embeddings.npy") else { return }
        page.section("Embeddings") { section in
            do {
                let projection = try EmbeddingProjection(directory: directory)
                section.svg(tagged(projection.scatter.svg(), id: "chart-embeddings"))
                for note in projection.notes { section.paragraph(note) }
            } catch {
                section.paragraph("\(error)")
            }
        }
    }

    private static func augmentations(_ config: RunConfig, into page: inout HTMLPage) {
        page.section("Augmented views") { section in
            do {
                let examples = try AugmentationExamples(config: config)
                section.paragraph("From \(examples.datasetName), seed \(config.seed).")
                section.svg(tagged(examples.grid.svg(), id: "chart-augmentations"))
                for note in examples.notes { section.paragraph(note) }
            } catch {
                section.paragraph("No examples: \(error)")
            }
        }
    }

    private static func files(_ directory: URL, into page: inout HTMLPage) {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? [])
            .filter { !$0.hasPrefix(".") && $0 != fileName }
            .sorted()
        guard !names.isEmpty else { return }
        page.section("Files") { section in
            for name in names {
                section.link(name, href: name.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? name)
            }
        }
    }
}
