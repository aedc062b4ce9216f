import Foundation
import TestSupport
import XCTest
@testable import Report

final class HTMLPageTests: XCTestCase {
    func testPageIsEscapedSelfContainedAndWellFormed() throws {
        var page = HTMLPage(title: "Run <2024> & \"friends\"")
        page.paragraph("<script>alert('x')</script>")
        page.section("Configuration") { s in
            s.keyValueTable([(key: "model", value: "resnet18"), (key: "note", value: "a < b & c")])
            s.section("Details") { $0.preformatted("  precision    recall\n\n<tab>\t&") }
        }
        page.section("Charts") { s in
            var chart = LineChart(title: "loss")
            chart.add("train", y: [3, 2, 1])
            s.svg("<?xml version=\"1.0\"?>\n" + chart.svg())
            s.table(header: ["model", "top-1"], rows: [["SimCLR", "0.81"], ["x&y", "<1>"]])
            s.link("metrics", href: "metrics.jsonl?a=1&b=2")
        }
        let html = page.html()
        XCTAssertTrue(html.hasPrefix("<!DOCTYPE html>\n"))
        XCTAssertFalse(html.contains("<script"))
        XCTAssertFalse(html.contains("<?xml"))
        XCTAssertTrue(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"))
        XCTAssertTrue(html.contains("<pre>  precision    recall\n\n&lt;tab&gt;\t&amp;</pre>"))

        let summary = XMLSummary(html)
        XCTAssertTrue(summary.isWellFormed, "\(String(describing: summary.error))")
        XCTAssertEqual(summary.elements(named: "title").first?.text, "Run <2024> & \"friends\"")
        XCTAssertEqual(summary.elements(named: "h1").map(\.text), ["Run <2024> & \"friends\""])
        XCTAssertEqual(summary.elements(named: "h2").map(\.text), ["Configuration", "Charts"])
        XCTAssertEqual(summary.elements(named: "h3").map(\.text), ["Details"])
        XCTAssertEqual(summary.elements(named: "section").count, 3)
        XCTAssertEqual(summary.elements(named: "svg").count, 1)
        XCTAssertEqual(summary.elements(named: "th").map(\.text), ["model", "note", "model", "top-1"])
        XCTAssertEqual(summary.elements(named: "td").map(\.text), ["resnet18", "a < b & c", "SimCLR", "0.81", "x&y", "<1>"])
        XCTAssertEqual(summary.elements(named: "a").first?.attributes["href"], "metrics.jsonl?a=1&b=2")
        // Nested section: the Details heading sits inside the Configuration section.
        let configuration = try XCTUnwrap(summary.elements(named: "section").first)
        XCTAssertTrue(configuration.text.contains("Details"))
        XCTAssertFalse(configuration.text.contains("Charts"))

        let folder = try temporaryFolder(self)
        let url = folder.appendingPathComponent("index.html")
        try page.write(to: url)
        XCTAssertEqual(try String(contentsOf: url, encoding: .utf8), html)
    }
}
