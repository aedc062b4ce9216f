import Foundation

/// The pieces every chart shares: title, axes with ticks, labels and grid lines, and a legend.
extension SVGCanvas {
    /// The plot area's left edge that leaves room for the y tick labels and the y axis title.
    static func plotLeft(for scale: ChartScale, hasAxisLabel: Bool) -> Double {
        let widest = scale.ticks.map { textWidth(scale.label($0), size: 11) }.max() ?? 0
        return max(48, widest + (hasAxisLabel ? 34 : 14))
    }

    /// Width of a legend of `names` (0 when there are none).
    static func legendWidth(_ names: [String]) -> Double {
        guard !names.isEmpty else { return 0 }
        return min(280, 34 + (names.map { textWidth($0) }.max() ?? 0))
    }

    mutating func title(_ string: String) {
        guard !string.isEmpty else { return }
        text(string, x: width / 2, y: 24, size: 15, anchor: .middle, bold: true, cssClass: "title")
    }

    /// Horizontal grid lines, tick labels and the (rotated) axis title of a vertical axis.
    mutating func yAxis(_ scale: ChartScale, left: Double, right: Double, label: String) {
        for tick in scale.ticks {
            let y = scale.pixel(tick)
            line(x1: left, y1: y, x2: right, y2: y, stroke: "#e4e4e4", cssClass: "grid")
            text(scale.label(tick), x: left - 6, y: y + 4, size: 11, anchor: .end, fill: "#444444", cssClass: "tick-label")
        }
        let top = scale.pixel(scale.upper), bottom = scale.pixel(scale.lower)
        line(x1: left, y1: top, x2: left, y2: bottom, stroke: "#444444", cssClass: "axis")
        if !label.isEmpty {
            text(label, x: 16, y: (top + bottom) / 2, size: 12, anchor: .middle, rotate: -90, cssClass: "axis-label")
        }
    }

    /// Vertical grid lines, tick labels and the axis title of a horizontal axis at `bottom`.
    mutating func xAxis(_ scale: ChartScale, top: Double, bottom: Double, label: String) {
        for tick in scale.ticks {
            let x = scale.pixel(tick)
            line(x1: x, y1: top, x2: x, y2: bottom, stroke: "#eeeeee", cssClass: "grid")
            text(scale.label(tick), x: x, y: bottom + 16, size: 11, anchor: .middle, fill: "#444444", cssClass: "tick-label")
        }
        line(x1: scale.pixel(scale.lower), y1: bottom, x2: scale.pixel(scale.upper), y2: bottom,
             stroke: "#444444", cssClass: "axis")
        if !label.isEmpty {
            text(label, x: (scale.pixel(scale.lower) + scale.pixel(scale.upper)) / 2, y: bottom + 36,
                 anchor: .middle, cssClass: "axis-label")
        }
    }

    enum LegendMarker { case line, square, circle }

    /// One entry per `(name, colour)`, stacked from `(x, y)` downwards.
    mutating func legend(_ entries: [(name: String, color: String)], x: Double, y: Double, marker: LegendMarker) {
        for (i, entry) in entries.enumerated() {
            let cy = y + Double(i) * 16
            let swatch: String
            switch marker {
            case .line:
                swatch = "<line x1=\"\(num(x))\" y1=\"\(num(cy))\" x2=\"\(num(x + 18))\" y2=\"\(num(cy))\" stroke=\"\(entry.color)\" stroke-width=\"2.5\"/>"
            case .square:
                swatch = "<rect x=\"\(num(x + 4))\" y=\"\(num(cy - 5))\" width=\"10\" height=\"10\" fill=\"\(entry.color)\"/>"
            case .circle:
                swatch = "<circle cx=\"\(num(x + 9))\" cy=\"\(num(cy))\" r=\"4\" fill=\"\(entry.color)\"/>"
            }
            raw("<g class=\"legend-entry\">" + swatch + "<text x=\"\(num(x + 24))\" y=\"\(num(cy + 4))\" font-size=\"12\" fill=\"#222222\">"
                + escapeXML(entry.name) + "</text></g>")
        }
    }

    /// A note in the middle of an empty plot.
    mutating func noData(x: Double, y: Double) {
        text("no data", x: x, y: y, size: 13, anchor: .middle, fill: "#888888", cssClass: "no-data")
    }
}
