import Foundation
import TestSupport
import XCTest
@testable import Formats

final class NpyFileTests: XCTestCase {
    private func reference() throws -> [String: Any] {
        try XCTUnwrap(try formatsReference()["npy"] as? [String: Any])
    }

    func testReadsFilesWrittenByNumPy() throws {
        let reference = try reference()
        let f32 = try NpyFile.read(contentsOf: try fixtureURL("float32", "npy"))
        let expectedFloats = try XCTUnwrap(reference["float32"] as? [String: Any])
        XCTAssertEqual(f32.shape, [3, 4])
        XCTAssertEqual(try XCTUnwrap(f32.floats).map(\.bitPattern), floats(expectedFloats["values"]).map(\.bitPattern))
        XCTAssertNil(f32.int64s)

        let i64 = try NpyFile.read(contentsOf: try fixtureURL("int64", "npy"))
        let expectedInts = try XCTUnwrap(reference["int64"] as? [String: Any])
        XCTAssertEqual(i64.shape, [5])
        XCTAssertEqual(i64.int64s, (expectedInts["ints"] as? [NSNumber])?.map(\.int64Value))
    }

    /// Our files are byte-identical to `numpy.save` for the same arrays.
    func testWriterMatchesNumPyByteForByte() throws {
        let reference = try reference()
        let f32 = floats((reference["float32"] as? [String: Any])?["values"])
        XCTAssertEqual(NpyFile.encode(floats: f32, shape: [3, 4]), try Data(contentsOf: try fixtureURL("float32", "npy")))
        let i64 = try XCTUnwrap(((reference["int64"] as? [String: Any])?["ints"] as? [NSNumber])?.map(\.int64Value))
        XCTAssertEqual(NpyFile.encode(int64s: i64, shape: [5]), try Data(contentsOf: try fixtureURL("int64", "npy")))
    }

    /// Headers of shapes too big to store as fixtures (and the 0-d and 3-d cases) match NumPy's.
    func testHeadersMatchNumPy() throws {
        let headers = try XCTUnwrap(try reference()["headers"] as? [[String: Any]])
        XCTAssertEqual(headers.count, 7)
        for entry in headers {
            let shape = try XCTUnwrap(entry["shape"] as? [Int])
            let descr = entry["dtype"] as? String == "float32" ? "<f4" : "<i8"
            let expected = try XCTUnwrap(Data(base64Encoded: try XCTUnwrap(entry["header"] as? String)))
            XCTAssertEqual(NpyFile.header(descr: descr, shape: shape), expected, "\(descr) \(shape)")
            XCTAssertEqual(expected.count % 64, 0)
        }
    }

    func testRoundTripThroughFile() throws {
        let folder = try temporaryFolder(self)
        let embeddings: [Float] = (0..<(7 * 5)).map { Float($0) * 0.37 - 3 }
        let url = folder.appendingPathComponent("embeddings.npy")
        try NpyFile.write(floats: embeddings, shape: [7, 5], to: url)
        XCTAssertEqual(try NpyFile.read(contentsOf: url), NpyArray(shape: [7, 5], values: .float32(embeddings)))
        let labelsURL = folder.appendingPathComponent("labels.npy")
        try NpyFile.write(int64s: [3, 1, -4], shape: [3], to: labelsURL)
        XCTAssertEqual(try NpyFile.read(contentsOf: labelsURL), NpyArray(shape: [3], values: .int64([3, 1, -4])))
        XCTAssertEqual(try NpyFile.decode(NpyFile.encode(floats: [], shape: [0, 4])).shape, [0, 4])
        XCTAssertEqual(try NpyFile.decode(NpyFile.encode(floats: [2], shape: [])).floats, [2])
    }

    func testReadsOtherDTypesAndVersions() throws {
        // float64 and int32 arrays, and a version 2.0 header (4-byte length).
        func file(major: UInt8, descr: String, shape: String, payload: [UInt8]) -> Data {
            let text = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shape), }\n"
            var data = Data([0x93] + Array("NUMPY".utf8) + [major, 0])
            let n = text.utf8.count
            data.append(contentsOf: major == 1 ? [UInt8(n & 0xFF), UInt8(n >> 8)] : [UInt8(n & 0xFF), UInt8(n >> 8), 0, 0])
            data.append(contentsOf: Array(text.utf8))
            data.append(contentsOf: payload)
            return data
        }
        var f64: [UInt8] = []
        for v in [0.5, -1.25] { withUnsafeBytes(of: v.bitPattern.littleEndian) { f64 += $0 } }
        XCTAssertEqual(try NpyFile.decode(file(major: 2, descr: "<f8", shape: "(2,)", payload: f64)).floats, [0.5, -1.25])
        var i32: [UInt8] = []
        for v: Int32 in [-7, 9] { withUnsafeBytes(of: v.littleEndian) { i32 += $0 } }
        XCTAssertEqual(try NpyFile.decode(file(major: 1, descr: "<i4", shape: "(1, 2)", payload: i32)).int64s, [-7, 9])

        XCTAssertThrowsError(try NpyFile.decode(file(major: 1, descr: ">f4", shape: "(1,)", payload: [0, 0, 0, 0]))) {
            XCTAssertEqual($0 as? NpyError, .unsupportedDType(source: "<memory>", descr: ">f4"))
        }
        XCTAssertThrowsError(try NpyFile.decode(file(major: 1, descr: "<f4", shape: "(2,)", payload: [0, 0, 0, 0]))) {
            guard case NpyError.truncated = $0 else { return XCTFail("\($0)") }
        }
        XCTAssertThrowsError(try NpyFile.decode(Data("not numpy at all".utf8))) {
            XCTAssertEqual($0 as? NpyError, .notNpy(source: "<memory>"))
        }
        let fortran = file(major: 1, descr: "<f4", shape: "(1,)", payload: [0, 0, 0, 0]).replacingFalse()
        XCTAssertThrowsError(try NpyFile.decode(fortran)) { XCTAssertEqual($0 as? NpyError, .fortranOrder(source: "<memory>")) }
    }
}

private extension Data {
    /// The same file with `fortran_order: True ` (same length), edited as bytes (the magic is not UTF-8).
    func replacingFalse() -> Data {
        var bytes = [UInt8](self)
        let needle = Array("False".utf8)
        if let i = (0...(bytes.count - needle.count)).first(where: { Array(bytes[$0..<($0 + needle.count)]) == needle }) {
            bytes.replaceSubrange(i..<(i + needle.count), with: Array("True ".utf8))
        }
        return Data(bytes)
    }
}
