import Foundation

/// A matrix drawn as coloured cells with each value written in its cell: a confusion matrix (true
/// class down, predicted class across).
public struct Heatmap {
    public var title: String
    /// Label of the row axis (left).
    public var rowAxisLabel: String
    /// Label of the column axis (bottom).
    public var columnAxisLabel: String
    public var rowLabels: [String]
    public var columnLabels: [String]
    /// `values[r * columns + c]`.
    public var values: [Double]
    /// Shade each cell by its share of its row (recall, for a confusion matrix) rather than by the
    /// largest value, so small classes are as readable as large ones. The numbers are unchanged.
    public var shadeByRow: Bool

    public init(title: String, rowAxisLabel: String = "", columnAxisLabel: String = "", rowLabels: [String],
                columnLabels: [String], values: [Double], shadeByRow: Bool = false) {
        precondition(values.count == rowLabels.count * columnLabels.count,
                     "Heatmap: \(values.count) values for \(rowLabels.count) x \(columnLabels.count) cells")
        self.title = title
        self.rowAxisLabel = rowAxisLabel
        self.columnAxisLabel = columnAxisLabel
        self.rowLabels = rowLabels
        self.columnLabels = columnLabels
        self.values = values
        self.shadeByRow = shadeByRow
    }

    /// A confusion matrix: rows are true classes, columns predicted ones, shaded by row.
    public init(confusion: ConfusionMatrix, classNames: [String], title: String = "Confusion matrix") {
        self.init(title: title, rowAxisLabel: "true class", columnAxisLabel: "predicted class", rowLabels: classNames,
                  columnLabels: classNames, values: confusion.counts.map(Double.init), shadeByRow: true)
    }

    /// The heatmap as an SVG document: a `<rect class="cell">` and a `<text class="cell-value">` per
    /// cell, a `row-label` per row and a `column-label` per column.
    public func svg() -> String {
        let rows = rowLabels.count, columns = columnLabels.count
        let cell = min(44, max(12, 560 / Double(max(rows, columns, 1))))
        let labelSize = min(12, max(8, cell * 0.7))
        let left = 12 + (rowAxisLabel.isEmpty ? 0 : 20) + (rowLabels.map { SVGCanvas.textWidth($0, size: labelSize) }.max() ?? 0) + 8
        let top = 44.0
        // Column labels are written at 45 degrees under the grid.
        let columnLabelDrop = (columnLabels.map { SVGCanvas.textWidth($0, size: labelSize) }.max() ?? 0) * 0.72 + 14
        let width = max(left + Double(columns) * cell + 24, SVGCanvas.textWidth(title, size: 15) + 40)
        let height = top + Double(rows) * cell + columnLabelDrop + (columnAxisLabel.isEmpty ? 8 : 34)
        var canvas = SVGCanvas(width: width, height: height)
        canvas.title(title)

        let integral = values.allSatisfy { !$0.isFinite || $0 == $0.rounded() }
        let globalMax = values.filter(\.isFinite).max() ?? 0
        let valueSize = min(12, cell * 0.36)
        for r in 0..<rows {
            let rowSum = (0..<columns).reduce(0.0) { $0 + (values[r * columns + $1].isFinite ? values[r * columns + $1] : 0) }
            let scale = shadeByRow ? rowSum : globalMax
            for c in 0..<columns {
                let v = values[r * columns + c]
                let t = v.isFinite && scale > 0 ? min(max(v / scale, 0), 1) : 0
                let x = left + Double(c) * cell, y = top + Double(r) * cell
                let text = !v.isFinite ? "" : integral ? String(Int(v)) : String(format: "%.2f", v)
                canvas.rect(x: x, y: y, width: cell, height: cell, fill: Self.shade(t), stroke: "#ffffff", cssClass: "cell",
                            tooltip: "\(rowLabels[r]) / \(columnLabels[c]): \(text)")
                canvas.text(text, x: x + cell / 2, y: y + cell / 2 + valueSize * 0.35, size: valueSize, anchor: .middle,
                            fill: t > 0.55 ? "#ffffff" : "#222222", cssClass: "cell-value")
            }
            canvas.text(rowLabels[r], x: left - 6, y: top + (Double(r) + 0.5) * cell + labelSize * 0.35, size: labelSize,
                        anchor: .end, cssClass: "row-label")
        }
        let gridBottom = top + Double(rows) * cell
        for c in 0..<columns {
            let x = left + (Double(c) + 0.5) * cell
            canvas.text(columnLabels[c], x: x, y: gridBottom + 10, size: labelSize, anchor: .end, rotate: -45,
                        cssClass: "column-label")
        }
        if !rowAxisLabel.isEmpty {
            canvas.text(rowAxisLabel, x: 16, y: top + Double(rows) * cell / 2, anchor: .middle, rotate: -90, cssClass: "axis-label")
        }
        if !columnAxisLabel.isEmpty {
            canvas.text(columnAxisLabel, x: left + Double(columns) * cell / 2, y: height - 12, anchor: .middle,
                        cssClass: "axis-label")
        }
        return canvas.document(title: title)
    }

    /// White to dark blue (matplotlib's "Blues" end points) at `t` in 0...1.
    static func shade(_ t: Double) -> String {
        let (r0, g0, b0) = (247.0, 251.0, 255.0), (r1, g1, b1) = (8.0, 48.0, 107.0)
        return ChartPalette.hex((r0 + (r1 - r0) * t) / 255, (g0 + (g1 - g0) * t) / 255, (b0 + (b1 - b0) * t) / 255)
    }
}
