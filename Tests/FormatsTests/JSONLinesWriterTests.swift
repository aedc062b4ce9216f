import Foundation
import TestSupport
import XCTest
@testable import Formats

final class JSONLinesWriterTests: XCTestCase {
    func testAppendsOneObjectPerLine() throws {
        let folder = try temporaryFolder(self)
        let url = folder.appendingPathComponent("metrics.jsonl")
        let writer = try JSONLinesWriter(url: url)
        try writer.write(["step": 1, "loss": 4.25, "lr": Float(0.1), "phase": "pretrain \"a\"\n", "ok": true,
                          "nan": Double.nan, "none": Optional<Int>.none as Any, "list": [1, 2.5]])
        struct Record: Encodable { let step: Int; let loss: Double }
        try writer.write(record: Record(step: 2, loss: 3.5))
        // Already on disk before close: each line is written straight through.
        let text = try String(contentsOf: url, encoding: .utf8)
        XCTAssertEqual(text, """
            {"list":[1.0,2.5],"loss":4.25,"lr":0.1,"nan":null,"none":null,"ok":true,"phase":"pretrain \\"a\\"\\n","step":1}
            {"loss":3.5,"step":2}

            """)
        writer.close()
        XCTAssertThrowsError(try writer.write(["step": 3]))

        // Reopening appends (a resumed run); truncate starts over.
        try JSONLinesWriter(url: url).write(["step": 3])
        XCTAssertEqual(try String(contentsOf: url, encoding: .utf8).split(separator: "\n").count, 3)
        try JSONLinesWriter(url: url, truncate: true).write(["step": 4])
        XCTAssertEqual(try String(contentsOf: url, encoding: .utf8), "{\"step\":4}\n")

        // Each line parses back.
        for line in try String(contentsOf: url, encoding: .utf8).split(separator: "\n") {
            XCTAssertNotNil(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        }
    }

    func testNumbersFromJSONSerializationKeepTheirKind() throws {
        let parsed = try JSONSerialization.jsonObject(with: Data(#"{"a":1,"b":true,"c":0.5,"d":[false,2]}"#.utf8))
        XCTAssertEqual(try JSONText.value(parsed), #"{"a":1,"b":true,"c":0.5,"d":[false,2]}"#)
        XCTAssertEqual(try JSONText.value([NSNumber(value: Int8(1)), NSNumber(value: Float(0.5))]), "[1,0.5]")
    }

    func testUnsupportedValueAndMissingFolder() throws {
        let folder = try temporaryFolder(self)
        let writer = try JSONLinesWriter(url: folder.appendingPathComponent("m.jsonl"))
        XCTAssertThrowsError(try writer.write(["when": Date()])) {
            XCTAssertEqual($0 as? JSONLinesError, .unsupportedValue("Date"))
        }
        XCTAssertThrowsError(try JSONLinesWriter(url: folder.appendingPathComponent("missing/m.jsonl"))) {
            XCTAssertTrue("\($0)".hasSuffix("No such file or directory"), "\($0)")
        }
    }
}
