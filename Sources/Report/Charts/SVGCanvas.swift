import Foundation

/// Accumulates the elements of one self-contained SVG document: no external fonts (a generic
/// `sans-serif` family), stylesheets or scripts, so a chart opens anywhere and can be inlined in
/// HTML. Every mark carries a `class` attribute naming what it is (`series`, `bar`, `point`,
/// `cell`, `legend-entry`, ...), which keeps the output inspectable and testable.
struct SVGCanvas {
    let width: Double
    let height: Double
    private(set) var body = ""

    init(width: Double, height: Double) {
        self.width = width
        self.height = height
    }

    /// The finished document.
    func document(title: String) -> String {
        "<svg xmlns=\"http://www.w3.org/2000/svg\" xmlns:xlink=\"http://www.w3.org/1999/xlink\" "
            + "width=\"\(num(width))\" height=\"\(num(height))\" viewBox=\"0 0 \(num(width)) \(num(height))\" "
            + "font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" font-size=\"12\">\n"
            + "<title>\(escapeXML(title))</title>\n"
            + "<rect class=\"background\" x=\"0\" y=\"0\" width=\"\(num(width))\" height=\"\(num(height))\" fill=\"#ffffff\"/>\n"
            + body + "</svg>\n"
    }

    mutating func raw(_ element: String) {
        body += element
        body += "\n"
    }

    mutating func rect(x: Double, y: Double, width: Double, height: Double, fill: String,
                       stroke: String? = nil, cssClass: String, tooltip: String? = nil) {
        var s = "<rect class=\"\(cssClass)\" x=\"\(num(x))\" y=\"\(num(y))\" width=\"\(num(width))\" height=\"\(num(height))\" fill=\"\(fill)\""
        if let stroke { s += " stroke=\"\(stroke)\" stroke-width=\"1\"" }
        if let tooltip {
            s += "><title>\(escapeXML(tooltip))</title></rect>"
        } else {
            s += "/>"
        }
        raw(s)
    }

    mutating func line(x1: Double, y1: Double, x2: Double, y2: Double, stroke: String,
                       width: Double = 1, dashed: Bool = false, cssClass: String) {
        raw("<line class=\"\(cssClass)\" x1=\"\(num(x1))\" y1=\"\(num(y1))\" x2=\"\(num(x2))\" y2=\"\(num(y2))\" "
            + "stroke=\"\(stroke)\" stroke-width=\"\(num(width))\"" + (dashed ? " stroke-dasharray=\"3,3\"" : "") + "/>")
    }

    enum Anchor: String { case start, middle, end }

    mutating func text(_ string: String, x: Double, y: Double, size: Double = 12, anchor: Anchor = .start,
                       bold: Bool = false, fill: String = "#222222", rotate: Double = 0, cssClass: String) {
        var s = "<text class=\"\(cssClass)\" x=\"\(num(x))\" y=\"\(num(y))\" font-size=\"\(num(size))\" text-anchor=\"\(anchor.rawValue)\" fill=\"\(fill)\""
        if bold { s += " font-weight=\"bold\"" }
        if rotate != 0 { s += " transform=\"rotate(\(num(rotate)) \(num(x)) \(num(y)))\"" }
        s += ">\(escapeXML(string))</text>"
        raw(s)
    }

    /// Title, legend and axis labels share this width estimate: there is no font metric without
    /// a renderer, so assume an average glyph is 0.6 em wide.
    static func textWidth(_ string: String, size: Double = 12) -> Double {
        Double(string.count) * size * 0.6
    }
}

/// `text` with the five XML special characters escaped, usable in element content and in
/// attribute values alike.
func escapeXML(_ text: String) -> String {
    var out = ""
    out.reserveCapacity(text.utf8.count)
    for scalar in text.unicodeScalars {
        switch scalar {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&#39;"
        // XML 1.0 forbids most control characters even as references; drop them.
        case _ where scalar.value < 0x20 && scalar != "\n" && scalar != "\t" && scalar != "\r": continue
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out
}

/// A coordinate with one decimal, without Foundation's `String(format:)` (slow for the thousands
/// of points of a scatter plot).
func num(_ value: Double) -> String {
    guard value.isFinite else { return "0" }
    let tenths = Int((abs(value) * 10).rounded())
    let sign = value < 0 && tenths != 0 ? "-" : ""
    let whole = tenths / 10, fraction = tenths % 10
    return fraction == 0 ? "\(sign)\(whole)" : "\(sign)\(whole).\(fraction)"
}
