import Foundation

/// Why a `.npy` file could not be read.
public enum NpyError: Error, LocalizedError, CustomStringConvertible, Equatable {
    case unreadable(source: String, reason: String)
    case notNpy(source: String)
    case truncated(source: String, detail: String)
    case invalidHeader(source: String, detail: String)
    /// A dtype other than float32/float64 (read as Float) and int64/int32 (read as Int64), or
    /// big-endian data.
    case unsupportedDType(source: String, descr: String)
    case fortranOrder(source: String)

    public var description: String {
        switch self {
        case let .unreadable(source, reason): return "\(source): cannot read .npy file: \(reason)"
        case let .notNpy(source): return "\(source): not a .npy file (no \\x93NUMPY magic)"
        case let .truncated(source, detail): return "\(source): truncated .npy file: \(detail)"
        case let .invalidHeader(source, detail): return "\(source): invalid .npy header: \(detail)"
        case let .unsupportedDType(source, descr):
            return "\(source): unsupported .npy dtype '\(descr)' (expected <f4, <f8, <i8 or <i4)"
        case let .fortranOrder(source): return "\(source): Fortran-ordered .npy arrays are not supported"
        }
    }
    public var errorDescription: String? { description }
}

/// NumPy's `.npy` format (version 1.0 when writing; 1.0, 2.0 and 3.0 when reading): embeddings as
/// float32 `[N, D]` and labels as int64 `[N]`, the files `np.load` opens.
///
/// The writer reproduces `numpy.save`'s header byte for byte: the dict repr with sorted keys, the
/// spare spaces NumPy leaves for the first axis to grow, and padding to a 64-byte boundary.
public enum NpyFile {
    private static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]  // "\x93NUMPY"

    /// The `.npy` bytes of float32 `values` with `shape` (row-major).
    public static func encode(floats values: [Float], shape: [Int]) -> Data {
        precondition(shape.reduce(1, *) == values.count, "NpyFile: shape \(shape) does not hold \(values.count) values")
        var out = header(descr: "<f4", shape: shape)
        values.withUnsafeBufferPointer { buffer in
            #if _endian(little)
            out.append(UnsafeBufferPointer(start: UnsafeRawPointer(buffer.baseAddress)?.assumingMemoryBound(to: UInt8.self),
                                           count: 4 * buffer.count))
            #else
            for v in buffer { withUnsafeBytes(of: v.bitPattern.littleEndian) { out.append(contentsOf: $0) } }
            #endif
        }
        return out
    }

    /// The `.npy` bytes of int64 `values` with `shape`.
    public static func encode(int64s values: [Int64], shape: [Int]) -> Data {
        precondition(shape.reduce(1, *) == values.count, "NpyFile: shape \(shape) does not hold \(values.count) values")
        var out = header(descr: "<i8", shape: shape)
        for v in values { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        return out
    }

    /// Writes float32 `values` with `shape` to `url` atomically (e.g. embeddings `[N, D]`).
    public static func write(floats values: [Float], shape: [Int], to url: URL) throws {
        try AtomicFile.write(encode(floats: values, shape: shape), to: url)
    }

    /// Writes int64 `values` with `shape` to `url` atomically (e.g. labels `[N]`).
    public static func write(int64s values: [Int64], shape: [Int], to url: URL) throws {
        try AtomicFile.write(encode(int64s: values, shape: shape), to: url)
    }

    /// Reads a `.npy` file.
    public static func read(contentsOf url: URL) throws -> NpyArray {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw NpyError.unreadable(source: url.path, reason: (error as NSError).localizedFailureReason ?? "\(error)")
        }
        return try decode(data, source: url.path)
    }

    /// Parses `.npy` bytes; float32/float64 arrays come back as `.float32`, int64/int32 as `.int64`.
    public static func decode(_ data: Data, source: String = "<memory>") throws -> NpyArray {
        let bytes = [UInt8](data)
        guard bytes.count >= 10, Array(bytes[0..<6]) == magic else { throw NpyError.notNpy(source: source) }
        let major = bytes[6]
        let lengthSize: Int
        switch major {
        case 1: lengthSize = 2
        case 2, 3: lengthSize = 4
        default: throw NpyError.invalidHeader(source: source, detail: "unknown format version \(major).\(bytes[7])")
        }
        guard bytes.count >= 8 + lengthSize else { throw NpyError.truncated(source: source, detail: "no header length") }
        var headerLength = 0
        for i in 0..<lengthSize { headerLength |= Int(bytes[8 + i]) << (8 * i) }
        let headerStart = 8 + lengthSize
        guard headerStart + headerLength <= bytes.count else {
            throw NpyError.truncated(source: source, detail: "header length \(headerLength) exceeds the file")
        }
        guard let header = String(bytes: bytes[headerStart..<(headerStart + headerLength)], encoding: major == 3 ? .utf8 : .isoLatin1) else {
            throw NpyError.invalidHeader(source: source, detail: "header is not text")
        }
        let (descr, fortran, shape) = try parseHeader(header, source: source)
        if fortran { throw NpyError.fortranOrder(source: source) }
        var count = 1
        for d in shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: d)
            guard !overflow, product <= bytes.count else {
                throw NpyError.truncated(source: source, detail: "shape \(shape) is larger than the file")
            }
            count = product
        }
        let elementSize: Int
        switch descr {
        case "<f4", "<i4": elementSize = 4
        case "<f8", "<i8": elementSize = 8
        default: throw NpyError.unsupportedDType(source: source, descr: descr)
        }
        let dataStart = headerStart + headerLength
        guard bytes.count - dataStart >= count * elementSize else {
            throw NpyError.truncated(
                source: source, detail: "\(shape) of \(descr) needs \(count * elementSize) bytes, the file has \(bytes.count - dataStart)")
        }
        let values: NpyArray.Values = bytes.withUnsafeBytes { all in
            let raw = UnsafeRawBufferPointer(rebasing: all[dataStart...])
            switch descr {
            case "<f4":
                return .float32((0..<count).map {
                    Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self)))
                })
            case "<f8":
                return .float32((0..<count).map {
                    Float(Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * $0, as: UInt64.self))))
                })
            case "<i4":
                return .int64((0..<count).map {
                    Int64(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: Int32.self)))
                })
            default:
                return .int64((0..<count).map {
                    Int64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * $0, as: Int64.self))
                })
            }
        }
        return NpyArray(shape: shape, values: values)
    }

    /// NumPy's version 1.0 header for `descr` and `shape`, magic included.
    static func header(descr: String, shape: [Int]) -> Data {
        let shapeText = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var dict = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shapeText), }"
        // NumPy leaves room for the first axis to grow to 21 digits, so arrays can be appended to in place.
        if let first = shape.first { dict += String(repeating: " ", count: max(0, 21 - String(first).count)) }
        // Magic (6) + version (2) + length (2) + text + "\n" end on a multiple of 64.
        let unpadded = 10 + dict.utf8.count + 1
        dict += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var out = Data(magic + [1, 0])
        let length = UInt16(dict.utf8.count)
        out.append(contentsOf: [UInt8(length & 0xFF), UInt8(length >> 8)])
        out.append(contentsOf: Array(dict.utf8))
        return out
    }

    /// Reads the Python dict literal of a header: `descr`, `fortran_order`, `shape`.
    private static func parseHeader(_ header: String, source: String) throws -> (String, Bool, [Int]) {
        func invalid(_ detail: String) -> NpyError { .invalidHeader(source: source, detail: detail) }
        func value(of key: String) throws -> Substring {
            guard let keyRange = header.range(of: "'\(key)'") else { throw invalid("no '\(key)'") }
            var rest = header[keyRange.upperBound...].drop { $0 == " " }
            guard rest.first == ":" else { throw invalid("no ':' after '\(key)'") }
            rest = rest.dropFirst().drop { $0 == " " }
            return rest
        }
        let descrText = try value(of: "descr")
        guard descrText.first == "'", let close = descrText.dropFirst().firstIndex(of: "'") else {
            throw invalid("'descr' is not a string")
        }
        let descr = String(descrText[descrText.index(after: descrText.startIndex)..<close])
        let fortranText = try value(of: "fortran_order")
        let fortran: Bool
        if fortranText.hasPrefix("False") { fortran = false } else if fortranText.hasPrefix("True") { fortran = true } else {
            throw invalid("'fortran_order' is not True or False")
        }
        let shapeText = try value(of: "shape")
        guard shapeText.first == "(", let close = shapeText.firstIndex(of: ")") else { throw invalid("'shape' is not a tuple") }
        let inner = shapeText[shapeText.index(after: shapeText.startIndex)..<close]
        var shape: [Int] = []
        for part in inner.split(separator: ",") {
            let trimmed = part.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { continue }
            guard let d = Int(trimmed), d >= 0 else { throw invalid("'shape' holds '\(trimmed)'") }
            shape.append(d)
        }
        return (descr, fortran, shape)
    }
}
