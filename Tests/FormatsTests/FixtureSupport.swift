import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import TestSupport
import XCTest

/// The reference fixture written by `scripts/formats_make_fixtures.py`.
func formatsReference() throws -> [String: Any] {
    try loadFixture(Bundle.module.url(forResource: "formats_reference", withExtension: "json", subdirectory: "Fixtures"))
}

/// A binary fixture file next to the JSON.
func fixtureURL(_ name: String, _ ext: String) throws -> URL {
    try XCTUnwrap(Bundle.module.url(forResource: name, withExtension: ext, subdirectory: "Fixtures"),
                  "fixture \(name).\(ext) not bundled")
}

/// A fresh empty folder under the system temporary directory, removed when the test ends.
func temporaryFolder(_ test: XCTestCase) throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("formats-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(at: url) }
    return url
}

/// What an XML parser saw in a document: every element with its attributes, and the text inside
/// each element (concatenated), or the parser's error.
final class XMLSummary: NSObject, XMLParserDelegate {
    struct Element {
        let name: String
        let attributes: [String: String]
        var text = ""
    }

    private(set) var elements: [Element] = []
    private var open: [Int] = []
    private(set) var error: Error?

    init(_ text: String) {
        super.init()
        let parser = XMLParser(data: Data(text.utf8))
        parser.delegate = self
        if !parser.parse() { error = parser.parserError ?? NSError(domain: "XMLParser", code: -1) }
    }

    var isWellFormed: Bool { error == nil }

    /// Elements whose `class` attribute is `cssClass`.
    func elements(withClass cssClass: String) -> [Element] {
        elements.filter { $0.attributes["class"] == cssClass }
    }

    func elements(named name: String) -> [Element] { elements.filter { $0.name == name } }

    func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?,
                qualifiedName qName: String?, attributes attributeDict: [String: String] = [:]) {
        open.append(elements.count)
        elements.append(Element(name: elementName, attributes: attributeDict))
    }

    func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName qName: String?) {
        open.removeLast()
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
        for index in open { elements[index].text += string }
    }
}
