import Foundation

/// Curves of several named series over a shared x axis (loss and learning rate per step, accuracy
/// per epoch), as a self-contained SVG. Non-finite values (a diverged loss) and, on a log axis,
/// non-positive ones break a curve instead of distorting the axis.
///
/// ```swift
/// var chart = LineChart(title: "Pretraining loss", xLabel: "step", yLabel: "NT-Xent", logY: true)
/// chart.add("train", x: steps, y: losses)
/// try AtomicFile.write(Data(chart.svg().utf8), to: runFolder.appendingPathComponent("loss.svg"))
/// ```
public struct LineChart {
    /// One named curve.
    public struct Series {
        public var name: String
        public var x: [Double]
        public var y: [Double]

        public init(name: String, x: [Double], y: [Double]) {
            precondition(x.count == y.count, "LineChart.Series '\(name)': \(x.count) x values but \(y.count) y values")
            self.name = name
            self.x = x
            self.y = y
        }

        /// A curve over x = 0, 1, 2, ...
        public init(name: String, y: [Double]) {
            self.init(name: name, x: y.indices.map(Double.init), y: y)
        }
    }

    public var title: String
    public var xLabel: String
    public var yLabel: String
    /// A logarithmic y axis (losses over many orders of magnitude, learning-rate schedules).
    public var logY: Bool
    public var series: [Series]
    public var width: Double = 720
    public var height: Double = 420

    public init(title: String, xLabel: String = "", yLabel: String = "", logY: Bool = false, series: [Series] = []) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.logY = logY
        self.series = series
    }

    /// Appends a series.
    public mutating func add(_ name: String, x: [Double], y: [Double]) {
        series.append(Series(name: name, x: x, y: y))
    }

    /// Appends a series over x = 0, 1, 2, ...
    public mutating func add(_ name: String, y: [Double]) {
        series.append(Series(name: name, y: y))
    }

    /// The chart as an SVG document: one `<path class="series">` per series, markers on series of
    /// at most 60 points, a legend entry per series.
    public func svg() -> String {
        var canvas = SVGCanvas(width: width, height: height)
        canvas.title(title)
        let names = series.map(\.name)
        let legendWidth = SVGCanvas.legendWidth(names)
        let top = 44.0, bottom = height - 50
        func usable(_ x: Double, _ y: Double) -> Bool { x.isFinite && y.isFinite && (!logY || y > 0) }
        let points = series.map { s in zip(s.x, s.y).filter { usable($0, $1) } }
        let yScale = ChartScale(values: points.flatMap { $0.map(\.1) }, pixels: top...bottom, flipped: true, logarithmic: logY)
        let left = SVGCanvas.plotLeft(for: yScale, hasAxisLabel: !yLabel.isEmpty)
        let right = width - 16 - (legendWidth > 0 ? legendWidth + 8 : 0)
        let xScale = ChartScale(values: points.flatMap { $0.map(\.0) }, pixels: left...right, flipped: false)
        canvas.xAxis(xScale, top: top, bottom: bottom, label: xLabel)
        canvas.yAxis(yScale, left: left, right: right, label: yLabel)
        if points.allSatisfy({ $0.isEmpty }) { canvas.noData(x: (left + right) / 2, y: (top + bottom) / 2) }

        for (index, s) in series.enumerated() {
            let color = ChartPalette.color(index, of: series.count)
            var d = ""
            var penDown = false
            for (x, y) in zip(s.x, s.y) {
                guard usable(x, y) else { penDown = false; continue }
                d += (penDown ? "L" : "M") + num(xScale.pixel(x)) + " " + num(yScale.pixel(y))
                penDown = true
            }
            canvas.raw("<path class=\"series\" data-name=\"\(escapeXML(s.name))\" d=\"\(d)\" fill=\"none\" "
                       + "stroke=\"\(color)\" stroke-width=\"1.8\" stroke-linejoin=\"round\"/>")
            if points[index].count <= 60 {
                for (x, y) in points[index] {
                    canvas.raw("<circle class=\"marker\" cx=\"\(num(xScale.pixel(x)))\" cy=\"\(num(yScale.pixel(y)))\" r=\"2.5\" fill=\"\(color)\"/>")
                }
            }
        }
        let entries = names.enumerated().map { (name: $1, color: ChartPalette.color($0, of: names.count)) }
        canvas.legend(entries, x: right + 16, y: top + 6, marker: .line)
        return canvas.document(title: title)
    }
}
