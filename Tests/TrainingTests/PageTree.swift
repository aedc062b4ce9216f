import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
@testable import Training

/// The page as an XML parser reads it (which also proves it well-formed): elements with their
/// attributes, text and parent, so sections and charts can be looked at one by one.
final class PageTree: NSObject, XMLParserDelegate {
    struct Element {
        let name: String
        let attributes: [String: String]
        let parent: Int?
        var text = ""
    }

    private(set) var elements: [Element] = []
    private var open: [Int] = []

    init(_ html: String) throws {
        super.init()
        let parser = XMLParser(data: Data(html.utf8))
        parser.delegate = self
        guard parser.parse() else {
            throw ReportFileError("the page is not well-formed XML: \(parser.parserError.map { "\($0)" } ?? "unknown error") "
                                  + "at line \(parser.lineNumber)")
        }
    }

    func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?,
                qualifiedName qName: String?, attributes attributeDict: [String: String] = [:]) {
        elements.append(Element(name: elementName, attributes: attributeDict, parent: open.last))
        open.append(elements.count - 1)
    }

    func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName qName: String?) {
        open.removeLast()
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
        for index in open { elements[index].text += string }
    }

    func elements(named name: String) -> [Int] { elements.indices.filter { elements[$0].name == name } }

    func text(of index: Int) -> String { elements[index].text.trimmingCharacters(in: .whitespacesAndNewlines) }

    func descendants(of index: Int) -> [Int] {
        elements.indices.filter { i in
            var p = elements[i].parent
            while let q = p { if q == index { return true }; p = elements[q].parent }
            return false
        }
    }

    /// The `<h2>` of each top-level `<section>`, in order.
    var sectionHeadings: [String] {
        elements(named: "section").compactMap { s in descendants(of: s).first { elements[$0].name == "h2" }.map(text(of:)) }
    }

    func section(_ heading: String) -> Int {
        elements(named: "section").first { s in descendants(of: s).contains { elements[$0].name == "h2" && text(of: $0) == heading } } ?? -1
    }

    var chartIDs: [String] { elements(named: "svg").compactMap { elements[$0].attributes["id"] } }

    func chart(_ id: String) -> Int { elements(named: "svg").first { elements[$0].attributes["id"] == id } ?? -1 }

    /// Rows of the tables in a section, each a list of cell texts.
    func tableRows(inSection heading: String) -> [[String]] {
        let inside = descendants(of: section(heading))
        return inside.filter { elements[$0].name == "tr" }.map { row in
            inside.filter { elements[$0].parent == row }.map(text(of:))
        }
    }

    /// The key/value table of a section.
    func keyValues(inSection heading: String) -> [String: String] {
        var out: [String: String] = [:]
        for row in tableRows(inSection: heading) where row.count == 2 { out[row[0]] = row[1] }
        return out
    }
}
