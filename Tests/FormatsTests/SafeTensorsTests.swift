import Foundation
import TestSupport
import XCTest
@testable import Formats

final class SafeTensorsTests: XCTestCase {
    private func reference() throws -> [String: Any] {
        try XCTUnwrap(try formatsReference()["safetensors"] as? [String: Any])
    }

    /// Every dtype of the file written by the Python package reads back as NumPy computed it.
    func testReadsFileWrittenByPythonPackage() throws {
        let file = try SafeTensors(contentsOf: try fixtureURL("reference", "safetensors"))
        let expected = try XCTUnwrap(try reference()["tensors"] as? [String: [String: Any]])
        XCTAssertEqual(file.metadata, ["format": "pt"])
        XCTAssertEqual(file.names, expected.keys.sorted())
        for (name, want) in expected {
            let info = try XCTUnwrap(file.info(name), name)
            XCTAssertEqual(info.dtype.rawValue, want["dtype"] as? String, name)
            XCTAssertEqual(info.shape, want["shape"] as? [Int], name)
            if let ints = want["ints"] as? [NSNumber] {
                XCTAssertEqual(try file.int64s(name), ints.map(\.int64Value), name)
                XCTAssertThrowsError(try file.floats(name), name)
            } else {
                let got = try file.floats(name)
                let values = floats(want["values"])
                XCTAssertEqual(got.count, values.count, name)
                // Exact: F32 is copied, F16/BF16 widen exactly, F64 rounds as NumPy's astype does.
                for (g, v) in zip(got, values) { XCTAssertEqual(g.bitPattern, v.bitPattern, "\(name): \(g) vs \(v)") }
                XCTAssertThrowsError(try file.int64s(name), name)
            }
        }
        XCTAssertEqual(try file.floats("half").last?.sign, .minus, "negative zero keeps its sign")
    }

    /// For the same tensors and metadata our writer produces exactly the Python package's bytes.
    func testWriterMatchesPythonPackageByteForByte() throws {
        let reference = try reference()
        let tensors = try XCTUnwrap(reference["tensors"] as? [String: [String: Any]])
        let metadata = try XCTUnwrap(reference["writer_metadata"] as? [String: String])
        var file = SafeTensors(metadata: metadata)
        for name in ["conv1.weight", "bn1.running_var", "empty"] {
            file.set(name, shape: tensors[name]!["shape"] as! [Int], floats: floats(tensors[name]!["values"]))
        }
        file.set("bn1.num_batches_tracked", shape: [], int64s: [1234567890123])
        var counter = Data()
        for v: Int32 in [-5, 7] { withUnsafeBytes(of: v.littleEndian) { counter.append(contentsOf: $0) } }
        file.set("counter32", dtype: .i32, shape: [2], bytes: counter)
        let expected = try Data(contentsOf: try fixtureURL("writer_reference", "safetensors"))
        XCTAssertEqual(file.serialized(), expected)
    }

    func testRoundTripThroughFile() throws {
        let folder = try temporaryFolder(self)
        let url = folder.appendingPathComponent("model.safetensors")
        var file = SafeTensors(metadata: ["format": "pt", "epoch": "3", "note": "ünï \"q\"\n"])
        let weights: [Float] = [1.5, -2.25, .pi, 0, -0.0, 1e-38, 3.4e38, .infinity]
        file.set("layer1.0.conv1.weight", shape: [2, 1, 2, 2], floats: weights)
        file.set("layer1.0.bn1.num_batches_tracked", shape: [], int64s: [Int64.max])
        file.set("scalar", shape: [], floats: [42])
        file.set("nothing", shape: [0], floats: [])
        try file.write(to: url)
        // The header is padded with spaces so the data starts 8-byte aligned.
        let bytes = try Data(contentsOf: url)
        let headerLength = bytes.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        XCTAssertEqual(headerLength % 8, 0)
        let headerText = String(decoding: bytes[8..<(8 + headerLength)], as: UTF8.self)
        XCTAssertTrue(headerText.hasPrefix(#"{"__metadata__":{"epoch":"3","format":"pt","note":"ünï \"q\"\n"},"#), headerText)
        let unpadded = headerText.reversed().drop { $0 == " " }
        XCTAssertEqual(unpadded.first, "}")
        XCTAssertLessThan(headerText.count - unpadded.count, 8)

        let back = try SafeTensors(contentsOf: url)
        XCTAssertEqual(back.metadata, file.metadata)
        XCTAssertEqual(back.names, ["layer1.0.bn1.num_batches_tracked", "layer1.0.conv1.weight", "nothing", "scalar"])
        XCTAssertEqual(try back.floats("layer1.0.conv1.weight").map(\.bitPattern), weights.map(\.bitPattern))
        XCTAssertEqual(try back.int64s("layer1.0.bn1.num_batches_tracked"), [Int64.max])
        XCTAssertEqual(try back.floats("scalar"), [42])
        XCTAssertEqual(back.info("scalar"), SafeTensors.TensorInfo(dtype: .f32, shape: []))
        XCTAssertEqual(try back.floats("nothing"), [])

        var destination = [Float](repeating: 0, count: 8)
        try destination.withUnsafeMutableBufferPointer { try back.copyFloats("layer1.0.conv1.weight", into: $0) }
        XCTAssertEqual(destination.map(\.bitPattern), weights.map(\.bitPattern))
        var wrongSize = [Float](repeating: 0, count: 7)
        XCTAssertThrowsError(try wrongSize.withUnsafeMutableBufferPointer { try back.copyFloats("layer1.0.conv1.weight", into: $0) }) {
            guard case SafeTensorsError.countMismatch = $0 else { return XCTFail("\($0)") }
        }
        XCTAssertThrowsError(try back.floats("missing")) {
            XCTAssertEqual($0 as? SafeTensorsError, .missingTensor(source: url.path, name: "missing"))
            XCTAssertTrue("\($0)".contains("no tensor named 'missing'"))
        }
        // Our reading of our writing equals our reading of the serialized bytes.
        XCTAssertEqual(bytes, file.serialized())
    }

    func testUnpaddedFileFromOtherWriterIsRead() throws {
        // A writer that does not pad (or pads with trailing spaces only) is still valid.
        let header = #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#
        var data = Data()
        withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(contentsOf: Array(header.utf8))
        withUnsafeBytes(of: Float(2.5).bitPattern.littleEndian) { data.append(contentsOf: $0) }
        XCTAssertEqual(try SafeTensors(data: data).floats("a"), [2.5])
    }

    // MARK: Validation

    /// A valid file as raw parts, to corrupt one at a time.
    private func build(header: String, dataBytes: Int, lengthOverride: UInt64? = nil) -> Data {
        var data = Data()
        withUnsafeBytes(of: (lengthOverride ?? UInt64(header.utf8.count)).littleEndian) { data.append(contentsOf: $0) }
        data.append(contentsOf: Array(header.utf8))
        data.append(Data(count: dataBytes))
        return data
    }

    private func assertFails(_ data: Data, _ check: (SafeTensorsError) -> Bool, _ fragment: String,
                             file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try SafeTensors(data: data, source: "x.safetensors"), file: file, line: line) { error in
            guard let e = error as? SafeTensorsError else { return XCTFail("not a SafeTensorsError: \(error)", file: file, line: line) }
            XCTAssertTrue(check(e), "unexpected error \(e)", file: file, line: line)
            XCTAssertTrue(e.description.hasPrefix("x.safetensors: "), e.description, file: file, line: line)
            XCTAssertTrue(e.description.contains(fragment), "'\(e.description)' lacks '\(fragment)'", file: file, line: line)
            XCTAssertFalse(e.description.contains("\n"), file: file, line: line)
        }
    }

    func testRejectsTruncatedFiles() throws {
        let good = try Data(contentsOf: try fixtureURL("reference", "safetensors"))
        XCTAssertNoThrow(try SafeTensors(data: good))
        assertFails(good.prefix(5), { if case .truncated = $0 { return true }; return false }, "8-byte header length")
        assertFails(good.prefix(100), { if case .truncated = $0 { return true }; return false }, "exceeds")
        // Header intact, data cut short: the last tensor's offsets now run past the end.
        assertFails(good.dropLast(3), { if case .invalidOffsets = $0 { return true }; return false }, "beyond")
        assertFails(build(header: "{}", dataBytes: 0, lengthOverride: UInt64.max),
                    { if case .truncated = $0 { return true }; return false }, "exceeds")
    }

    func testRejectsInvalidHeaders() {
        func isHeader(_ e: SafeTensorsError) -> Bool { if case .invalidHeader = e { return true }; return false }
        assertFails(build(header: "  {}", dataBytes: 0), isHeader, "does not start with '{'")
        assertFails(build(header: "{\"a\":", dataBytes: 0), isHeader, "not valid JSON")
        assertFails(build(header: #"{"a":[1]}"#, dataBytes: 0), isHeader, "tensor 'a': entry is not a JSON object")
        assertFails(build(header: #"{"a":{"shape":[1],"data_offsets":[0,4]}}"#, dataBytes: 4), isHeader, "dtype")
        assertFails(build(header: #"{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#, dataBytes: 4), isHeader, "shape")
        assertFails(build(header: #"{"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}"#, dataBytes: 4), isHeader, "shape")
        assertFails(build(header: #"{"a":{"dtype":"F32","shape":[true],"data_offsets":[0,4]}}"#, dataBytes: 4), isHeader, "shape")
        assertFails(build(header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0]}}"#, dataBytes: 4), isHeader, "data_offsets")
        assertFails(build(header: #"{"__metadata__":{"k":1}}"#, dataBytes: 0), isHeader, "__metadata__")
    }

    func testRejectsUnknownDType() {
        assertFails(build(header: #"{"a":{"dtype":"F33","shape":[1],"data_offsets":[0,4]}}"#, dataBytes: 4),
                    { $0 == .unknownDType(source: "x.safetensors", tensor: "a", dtype: "F33") }, "unknown dtype 'F33'")
    }

    func testRejectsBadOffsets() {
        func isOffsets(_ e: SafeTensorsError) -> Bool { if case .invalidOffsets = e { return true }; return false }
        // Out of range.
        assertFails(build(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, dataBytes: 4), isOffsets, "beyond the 4 data bytes")
        // Reversed.
        assertFails(build(header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}"#, dataBytes: 4), isOffsets, "not a valid range")
        // Size does not match the shape.
        assertFails(build(header: #"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, dataBytes: 8), isOffsets, "needs 12")
        // Overlapping tensors.
        let overlapping = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#
        assertFails(build(header: overlapping, dataBytes: 12), isOffsets, "overlaps tensor 'a'")
        // Absurd shape.
        assertFails(build(header: #"{"a":{"dtype":"F64","shape":[2305843009213693952,4],"data_offsets":[0,8]}}"#, dataBytes: 8),
                    { if case .invalidHeader = $0 { return true }; return false }, "too large")
    }

    func testUnreadableFileIsAClearError() throws {
        let folder = try temporaryFolder(self)
        XCTAssertThrowsError(try SafeTensors(contentsOf: folder.appendingPathComponent("missing.safetensors"))) { error in
            guard case SafeTensorsError.unreadable = error else { return XCTFail("\(error)") }
            XCTAssertTrue("\(error)".contains("missing.safetensors"))
        }
    }

    func testHalfPrecisionConversionIsExactForEveryPattern() {
        // Against the arithmetic definition: sign * 2^(e-15) * (1 + m/1024), subnormals 2^-14 * m/1024.
        for bits in UInt16(0)...UInt16.max {
            let e = Int((bits >> 10) & 0x1F), m = Double(bits & 0x3FF), sign: Double = bits & 0x8000 != 0 ? -1 : 1
            let got = floatFromHalf(bits)
            switch e {
            case 0: XCTAssertEqual(Double(got), sign * m / 1024 * pow(2, -14))
            case 31: XCTAssertTrue(m == 0 ? got.isInfinite : got.isNaN)
            default:
                if Double(got) != sign * (1 + m / 1024) * pow(2, Double(e - 15)) { return XCTFail("half \(bits): \(got)") }
            }
        }
    }
}
