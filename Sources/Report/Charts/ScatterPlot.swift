import Foundation

/// 2-D points coloured by class, with a legend of class names: embeddings projected with `PCA`.
public struct ScatterPlot {
    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var x: [Double]
    public var y: [Double]
    /// Class of each point, in `0..<classNames.count`.
    public var labels: [Int]
    public var classNames: [String]
    public var pointRadius: Double = 2.5
    public var width: Double = 720
    public var height: Double = 480

    public init(title: String, xLabel: String = "", yLabel: String = "", x: [Double], y: [Double], labels: [Int],
                classNames: [String]) {
        precondition(x.count == y.count && x.count == labels.count,
                     "ScatterPlot: \(x.count) x, \(y.count) y and \(labels.count) labels")
        precondition(labels.allSatisfy { (0..<classNames.count).contains($0) },
                     "ScatterPlot: labels must lie in 0..<\(classNames.count)")
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.x = x
        self.y = y
        self.labels = labels
        self.classNames = classNames
    }

    /// The plot as an SVG document: a `<circle class="point">` per finite point, grouped by class,
    /// and a legend entry per class name. The plot grows taller when the legend needs room.
    public func svg() -> String {
        let legendHeight = 44 + 6 + Double(classNames.count) * 16 + 10
        var canvas = SVGCanvas(width: width, height: max(height, legendHeight))
        canvas.title(title)
        let legendWidth = SVGCanvas.legendWidth(classNames)
        let top = 44.0, bottom = canvas.height - 50
        let finite = x.indices.filter { x[$0].isFinite && y[$0].isFinite }
        let yScale = ChartScale(values: finite.map { y[$0] }, pixels: top...bottom, flipped: true)
        let left = SVGCanvas.plotLeft(for: yScale, hasAxisLabel: !yLabel.isEmpty)
        let right = width - 16 - (legendWidth > 0 ? legendWidth + 8 : 0)
        let xScale = ChartScale(values: finite.map { x[$0] }, pixels: left...right, flipped: false)
        canvas.xAxis(xScale, top: top, bottom: bottom, label: xLabel)
        canvas.yAxis(yScale, left: left, right: right, label: yLabel)
        if finite.isEmpty { canvas.noData(x: (left + right) / 2, y: (top + bottom) / 2) }

        var byClass = [[Int]](repeating: [], count: classNames.count)
        for i in finite { byClass[labels[i]].append(i) }
        let r = num(pointRadius)
        for (c, members) in byClass.enumerated() where !members.isEmpty {
            var group = "<g class=\"class\" data-name=\"\(escapeXML(classNames[c]))\" fill=\"\(ChartPalette.color(c, of: classNames.count))\" fill-opacity=\"0.75\">"
            for i in members {
                group += "<circle class=\"point\" cx=\"\(num(xScale.pixel(x[i])))\" cy=\"\(num(yScale.pixel(y[i])))\" r=\"\(r)\"/>"
            }
            canvas.raw(group + "</g>")
        }
        let entries = classNames.enumerated().map { (name: $1, color: ChartPalette.color($0, of: classNames.count)) }
        canvas.legend(entries, x: right + 16, y: top + 6, marker: .circle)
        return canvas.document(title: title)
    }
}
