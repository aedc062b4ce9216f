import Foundation
import XCTest
@testable import Report

final class ChartsTests: XCTestCase {
    private func parse(_ svg: String, file: StaticString = #filePath, line: UInt = #line) -> XMLSummary {
        let summary = XMLSummary(svg)
        XCTAssertTrue(summary.isWellFormed, "not well-formed: \(String(describing: summary.error))", file: file, line: line)
        XCTAssertEqual(summary.elements.first?.name, "svg", file: file, line: line)
        XCTAssertEqual(summary.elements.first?.attributes["xmlns"], "http://www.w3.org/2000/svg", file: file, line: line)
        // Self-contained: nothing fetched from elsewhere.
        XCTAssertFalse(svg.contains("<script"), file: file, line: line)
        XCTAssertFalse(svg.contains("@import") || svg.contains("url(http"), file: file, line: line)
        XCTAssertTrue(summary.elements.allSatisfy { e in
            [e.attributes["href"], e.attributes["xlink:href"]].compactMap { $0 }.allSatisfy { $0.hasPrefix("data:") }
        }, file: file, line: line)
        return summary
    }

    private func texts(_ summary: XMLSummary, _ cssClass: String) -> [String] {
        summary.elements(withClass: cssClass).map(\.text)
    }

    func testLineChart() throws {
        var chart = LineChart(title: "Loss & <lr>", xLabel: "step", yLabel: "loss")
        chart.add("train", x: [0, 1, 2, 3, 4], y: [2.5, 2.0, .nan, 1.2, 1.0])
        chart.add("validation", x: [0, 2, 4], y: [2.6, 1.9, 1.3])
        chart.series.append(.init(name: "lr \"cosine\"", y: [0.1, 0.05, 0.0]))
        let svg = chart.svg()
        let summary = parse(svg)
        XCTAssertEqual(summary.elements(named: "title").first?.text, "Loss & <lr>")
        XCTAssertEqual(texts(summary, "title"), ["Loss & <lr>"])
        let series = summary.elements(withClass: "series")
        XCTAssertEqual(series.map { $0.attributes["data-name"] }, ["train", "validation", "lr \"cosine\""])
        // The NaN breaks the train curve into two pieces.
        XCTAssertEqual(series[0].attributes["d"]?.filter { $0 == "M" }.count, 2)
        XCTAssertEqual(summary.elements(withClass: "marker").count, 4 + 3 + 3)
        XCTAssertEqual(summary.elements(withClass: "legend-entry").map(\.text), ["train", "validation", "lr \"cosine\""])
        XCTAssertEqual(texts(summary, "axis-label"), ["step", "loss"])
        // Readable ticks: y covers 0...2.6 in steps of 0.5.
        let yTicks = summary.elements(withClass: "tick-label").filter { $0.attributes["text-anchor"] == "end" }.map(\.text)
        XCTAssertEqual(yTicks, ["0.0", "0.5", "1.0", "1.5", "2.0", "2.5", "3.0"])
    }

    func testLogLineChartTicksAndDroppedValues() throws {
        var chart = LineChart(title: "lr", logY: true)
        chart.add("lr", x: [0, 1, 2, 3], y: [1e-4, 1e-3, 0, 1e-1])  // 0 cannot be drawn on a log axis
        let summary = parse(chart.svg())
        XCTAssertEqual(summary.elements(withClass: "series").first?.attributes["d"]?.filter { $0 == "M" }.count, 2)
        // y tick labels are the right-aligned ones.
        let yTicks = summary.elements(withClass: "tick-label").filter { $0.attributes["text-anchor"] == "end" }.map(\.text)
        XCTAssertEqual(yTicks, ["1e-4", "0.001", "0.01", "0.1"])
    }

    func testEmptyChartsAreStillValid() {
        XCTAssertEqual(parse(LineChart(title: "nothing").svg()).elements(withClass: "no-data").count, 1)
        var onlyNaN = LineChart(title: "diverged")
        onlyNaN.add("loss", x: [0, 1], y: [.nan, .infinity])
        XCTAssertEqual(parse(onlyNaN.svg()).elements(withClass: "series").count, 1)
        _ = parse(ScatterPlot(title: "", x: [], y: [], labels: [], classNames: []).svg())
        _ = parse(GroupedBarChart(title: "", groups: [], series: [], values: []).svg())
        _ = parse(ImageGrid(title: "", images: []).svg())
    }

    func testGroupedBarChart() throws {
        var chart = GroupedBarChart(title: "Accuracy", yLabel: "accuracy", groups: ["lr 1e-3", "lr 1e-4"],
                                    series: ["SimCLR", "supervised", "random"],
                                    values: [[0.81, 0.9, 0.1], [0.79, .nan, 0.12]])
        chart.valueLabel = { String(format: "%.1f%%", $0 * 100) }
        let summary = parse(chart.svg())
        XCTAssertEqual(summary.elements(withClass: "bar").count, 5)
        XCTAssertEqual(texts(summary, "value"), ["81.0%", "90.0%", "10.0%", "79.0%", "12.0%"])
        XCTAssertEqual(texts(summary, "group-label"), ["lr 1e-3", "lr 1e-4"])
        XCTAssertEqual(summary.elements(withClass: "legend-entry").map(\.text), ["SimCLR", "supervised", "random"])
        // Taller bars for larger values, all standing on the same baseline.
        let bars = summary.elements(withClass: "bar").map { (Double($0.attributes["y"]!)!, Double($0.attributes["height"]!)!) }
        XCTAssertGreaterThan(bars[1].1, bars[0].1)
        XCTAssertGreaterThan(bars[0].1, bars[2].1)
        XCTAssertEqual(Set(bars.map { (($0.0 + $0.1) * 10).rounded() }).count, 1)
    }

    func testScatterPlot() throws {
        let names = (0..<12).map { "class \($0) <\($0)>" }
        let labels = (0..<50).map { $0 % 12 }
        let plot = ScatterPlot(title: "Embeddings (PCA)", xLabel: "PC 1", yLabel: "PC 2",
                               x: (0..<50).map { Double($0) }, y: (0..<50).map { sin(Double($0)) }, labels: labels,
                               classNames: names)
        let summary = parse(plot.svg())
        XCTAssertEqual(summary.elements(withClass: "point").count, 50)
        XCTAssertEqual(summary.elements(withClass: "class").count, 12)
        XCTAssertEqual(summary.elements(withClass: "legend-entry").map(\.text), names)
        // Twelve classes: twelve distinct colours.
        XCTAssertEqual(Set(summary.elements(withClass: "class").compactMap { $0.attributes["fill"] }).count, 12)
    }

    func testHeatmapOfConfusionMatrix() throws {
        let matrix = ConfusionMatrix(trueLabels: [0, 0, 1, 2, 2, 2], predictedLabels: [0, 1, 1, 2, 2, 0], classCount: 3)
        let heatmap = Heatmap(confusion: matrix, classNames: ["cat", "dog", "staffordshire_bull_terrier"])
        let summary = parse(heatmap.svg())
        XCTAssertEqual(summary.elements(withClass: "cell").count, 9)
        XCTAssertEqual(texts(summary, "cell-value"), ["1", "1", "0", "0", "1", "0", "1", "0", "2"])
        XCTAssertEqual(texts(summary, "row-label"), ["cat", "dog", "staffordshire_bull_terrier"])
        XCTAssertEqual(texts(summary, "column-label").count, 3)
        XCTAssertEqual(texts(summary, "axis-label"), ["true class", "predicted class"])
        // Shaded by row: the dog row's single correct prediction is the darkest possible cell.
        let fills = summary.elements(withClass: "cell").map { $0.attributes["fill"]! }
        XCTAssertEqual(fills[4], Heatmap.shade(1))
        XCTAssertEqual(fills[2], Heatmap.shade(0))
    }

    func testImageGrid() throws {
        let gray = ImageGrid.Image(width: 2, height: 2, channels: 1, pixels: [0, 255, 128, 64], caption: "gray & small")
        let rgb = ImageGrid.Image(width: 3, height: 1, channels: 3, floats: [-1, 0, 1, 0.5, 2, -0.5, 0, 0, 0],
                                  range: -1...1, caption: "view 2")
        XCTAssertEqual(rgb.pixels, [0, 128, 255, 191, 255, 64, 128, 128, 128])
        let grid = ImageGrid(title: "Augmented views", images: [gray, rgb, gray], columns: 2, scale: 4)
        let summary = parse(grid.svg())
        let tiles = summary.elements(withClass: "tile")
        XCTAssertEqual(tiles.count, 3)
        XCTAssertEqual(texts(summary, "caption"), ["gray & small", "view 2", "gray & small"])
        let uri = try XCTUnwrap(tiles[0].attributes["href"])
        XCTAssertTrue(uri.hasPrefix("data:image/png;base64,"))
        XCTAssertEqual(Data(base64Encoded: String(uri.dropFirst("data:image/png;base64,".count))), gray.png)
        XCTAssertEqual(tiles[1].attributes["width"], "12")
        XCTAssertEqual(tiles[2].attributes["y"], tiles[2].attributes["y"].map { _ in tiles[2].attributes["y"]! })
        XCTAssertGreaterThan(Double(tiles[2].attributes["y"]!)!, Double(tiles[0].attributes["y"]!)!, "third image on a second row")
    }

    func testChartScaleTicks() {
        let s = ChartScale(values: [0.13, 0.87], pixels: 0...100, flipped: false)
        XCTAssertEqual(s.ticks.map { s.label($0) }, ["0.1", "0.2", "0.3", "0.4", "0.5", "0.6", "0.7", "0.8", "0.9"])
        let big = ChartScale(values: [0, 12345], pixels: 0...100, flipped: false)
        XCTAssertEqual(big.ticks.map { big.label($0) }, ["0", "2000", "4000", "6000", "8000", "10000", "12000", "14000"])
        let flat = ChartScale(values: [5, 5], pixels: 0...100, flipped: true)
        XCTAssertLessThan(flat.lower, 5)
        XCTAssertGreaterThan(flat.upper, 5)
        XCTAssertEqual(flat.pixel(flat.upper), 0)
        XCTAssertEqual(flat.pixel(flat.lower), 100)
    }
}
