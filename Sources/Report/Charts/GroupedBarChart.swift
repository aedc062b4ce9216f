import Foundation

/// Bars in groups, one bar per series in each group, each labelled with its value (accuracy per
/// model at each learning rate, say: groups are learning rates, series are models).
public struct GroupedBarChart {
    public var title: String
    public var xLabel: String
    public var yLabel: String
    /// Group names along the x axis.
    public var groups: [String]
    /// Series names, in the legend.
    public var series: [String]
    /// `values[group][series]`; NaN marks a missing bar.
    public var values: [[Double]]
    /// The text above each bar.
    public var valueLabel: (Double) -> String = { String(format: "%.2f", $0) }
    public var width: Double = 720
    public var height: Double = 420

    public init(title: String, xLabel: String = "", yLabel: String = "", groups: [String], series: [String],
                values: [[Double]]) {
        precondition(values.count == groups.count && values.allSatisfy { $0.count == series.count },
                     "GroupedBarChart: values must be \(groups.count) groups x \(series.count) series")
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.groups = groups
        self.series = series
        self.values = values
    }

    /// The chart as an SVG document: a `<rect class="bar">` and a `<text class="value">` per
    /// finite value, a `group-label` per group and a legend entry per series.
    public func svg() -> String {
        var canvas = SVGCanvas(width: width, height: height)
        canvas.title(title)
        let legendWidth = SVGCanvas.legendWidth(series)
        let top = 44.0, bottom = height - 50
        let yScale = ChartScale(values: values.flatMap { $0 }, pixels: (top + 14)...bottom, flipped: true, includeZero: true)
        let left = SVGCanvas.plotLeft(for: yScale, hasAxisLabel: !yLabel.isEmpty)
        let right = width - 16 - (legendWidth > 0 ? legendWidth + 8 : 0)
        canvas.yAxis(yScale, left: left, right: right, label: yLabel)
        let zero = yScale.pixel(0)
        canvas.line(x1: left, y1: zero, x2: right, y2: zero, stroke: "#444444", cssClass: "axis")

        let groupWidth = (right - left) / Double(max(groups.count, 1))
        let barWidth = groupWidth * 0.8 / Double(max(series.count, 1))
        let valueSize = min(11, max(7, barWidth * 0.45))
        for (g, group) in groups.enumerated() {
            let groupLeft = left + Double(g) * groupWidth + groupWidth * 0.1
            for (s, name) in series.enumerated() {
                let v = values[g][s]
                guard v.isFinite else { continue }
                let x = groupLeft + Double(s) * barWidth
                let y = yScale.pixel(v)
                canvas.rect(x: x + 1, y: min(y, zero), width: max(barWidth - 2, 1), height: abs(zero - y),
                            fill: ChartPalette.color(s, of: series.count), cssClass: "bar",
                            tooltip: "\(group) / \(name): \(valueLabel(v))")
                canvas.text(valueLabel(v), x: x + barWidth / 2, y: v >= 0 ? y - 4 : y + valueSize + 2,
                            size: valueSize, anchor: .middle, fill: "#222222", cssClass: "value")
            }
            canvas.text(group, x: left + (Double(g) + 0.5) * groupWidth, y: bottom + 16, size: 11, anchor: .middle,
                        fill: "#444444", cssClass: "group-label")
        }
        if !xLabel.isEmpty {
            canvas.text(xLabel, x: (left + right) / 2, y: bottom + 36, anchor: .middle, cssClass: "axis-label")
        }
        let entries = series.enumerated().map { (name: $1, color: ChartPalette.color($0, of: series.count)) }
        canvas.legend(entries, x: right + 16, y: top + 6, marker: .square)
        return canvas.document(title: title)
    }
}
