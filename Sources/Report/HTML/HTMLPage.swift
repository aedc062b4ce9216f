import Formats
import Foundation

/// A self-contained HTML page built from a few blocks: headings, paragraphs, key/value and plain
/// tables, preformatted text (a classification report), inline SVG charts and links. All text is
/// escaped; the page has no external stylesheets, fonts or scripts, and is also well-formed XML
/// (XHTML syntax), so it can be checked with any XML parser.
///
/// ```swift
/// var page = HTMLPage(title: "run 2024-06-01")
/// page.section("Configuration") { $0.keyValueTable([("model", "resnet18"), ("batch", "512")]) }
/// page.section("Loss") { $0.svg(lossChart.svg()) }
/// try page.write(to: run.appendingPathComponent("index.html"))
/// ```
public struct HTMLPage {
    public var title: String
    private var blocks: [String] = []
    private var depth = 0

    public init(title: String) {
        self.title = title
    }

    /// A heading; `level` 1...6 (sections use 2, their subsections 3).
    public mutating func heading(_ text: String, level: Int = 2) {
        let h = min(max(level, 1), 6)
        blocks.append("<h\(h)>\(Self.escape(text))</h\(h)>")
    }

    /// A paragraph of plain text.
    public mutating func paragraph(_ text: String) {
        blocks.append("<p>\(Self.escape(text))</p>")
    }

    /// A two-column table of names and values (configuration, summary metrics).
    public mutating func keyValueTable(_ rows: [(key: String, value: String)]) {
        var html = "<table class=\"kv\">\n"
        for row in rows { html += "<tr><th>\(Self.escape(row.key))</th><td>\(Self.escape(row.value))</td></tr>\n" }
        blocks.append(html + "</table>")
    }

    /// A table with a header row; every row should have as many cells as `header`.
    public mutating func table(header: [String], rows: [[String]]) {
        var html = "<table>\n<tr>" + header.map { "<th>\(Self.escape($0))</th>" }.joined() + "</tr>\n"
        for row in rows { html += "<tr>" + row.map { "<td>\(Self.escape($0))</td>" }.joined() + "</tr>\n" }
        blocks.append(html + "</table>")
    }

    /// Monospaced text kept as is (a classification report, a command line).
    public mutating func preformatted(_ text: String) {
        blocks.append("<pre>\(Self.escape(text))</pre>")
    }

    /// An SVG document (one of the charts) inlined in the page; an XML declaration, if any, is
    /// dropped since it may only start a document. The SVG is trusted markup, not escaped.
    public mutating func svg(_ svg: String) {
        var markup = Substring(svg)
        if markup.hasPrefix("<?xml"), let end = markup.range(of: "?>") { markup = markup[end.upperBound...] }
        blocks.append("<div class=\"figure\">" + markup.trimmingCharacters(in: .whitespacesAndNewlines) + "</div>")
    }

    /// A link, relative to the page (a checkpoint, a metrics file) or absolute.
    public mutating func link(_ text: String, href: String) {
        blocks.append("<p><a href=\"\(Self.escape(href))\">\(Self.escape(text))</a></p>")
    }

    /// A `<section>` with a heading one level below the enclosing one, filled by `body`.
    public mutating func section(_ heading: String, _ body: (inout HTMLPage) -> Void) {
        self.heading(heading, level: depth + 2)
        let start = blocks.count
        depth += 1
        body(&self)
        depth -= 1
        let inner = blocks[start...].joined(separator: "\n")
        blocks.removeSubrange(start...)
        let headingBlock = blocks.removeLast()
        blocks.append("<section>\n" + headingBlock + "\n" + inner + "\n</section>")
    }

    /// The whole document.
    public func html() -> String {
        """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8"/>
        <meta name="viewport" content="width=device-width, initial-scale=1"/>
        <title>\(Self.escape(title))</title>
        <style>\(Self.style)</style>
        </head>
        <body>
        <h1>\(Self.escape(title))</h1>
        \(blocks.joined(separator: "\n"))
        </body>
        </html>

        """
    }

    /// Writes `html()` to `url` atomically.
    public func write(to url: URL) throws {
        try AtomicFile.write(Data(html().utf8), to: url)
    }

    /// `text` with `& < > " '` replaced by entities: safe in element content and attribute values.
    public static func escape(_ text: String) -> String { escapeXML(text) }

    private static let style = """
        body{font-family:system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:2em auto;max-width:1100px;\
        padding:0 1em;color:#222}h1{font-size:1.6em}h2{font-size:1.3em;border-bottom:1px solid #ddd;padding-bottom:.2em;\
        margin-top:1.6em}table{border-collapse:collapse;margin:.6em 0}th,td{border:1px solid #ddd;padding:.25em .6em;\
        text-align:left;vertical-align:top}table.kv th{background:#f6f6f6;font-weight:600}pre{background:#f6f6f6;\
        padding:.8em;overflow-x:auto;font-size:.9em}.figure{margin:1em 0;overflow-x:auto}
        """
}
