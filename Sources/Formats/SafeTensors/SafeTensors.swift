import Foundation

/// A set of named tensors in the safetensors format (the format of Hugging Face and of
/// `safetensors.torch.save_file`), read from or written to a file.
///
/// Layout: an 8-byte little-endian header length `n`; `n` bytes of JSON mapping each tensor name
/// to `{"dtype", "shape", "data_offsets": [begin, end]}` (offsets into the data that follows),
/// plus an optional `"__metadata__"` map of strings; then the raw little-endian data. Tensors are
/// row-major. Checkpoints use torchvision's parameter names and layouts, so a file written here
/// loads with `safetensors.torch.load_file` and the reverse.
///
/// Reading maps the file and validates the whole header up front (lengths, offsets, dtypes), so a
/// truncated or corrupt file fails with one clear error before any tensor is used. Writing goes
/// through `AtomicFile`: a failed write leaves the previous file intact.
///
/// ```swift
/// var file = SafeTensors(metadata: ["format": "pt"])
/// file.set("fc.weight", shape: [10, 512], floats: weights)
/// try file.write(to: url)
/// let loaded = try SafeTensors(contentsOf: url)
/// let w = try loaded.floats("fc.weight")
/// ```
public struct SafeTensors {
    /// What the header says about one tensor.
    public struct TensorInfo: Equatable, Sendable {
        public let dtype: SafeTensorsDType
        public let shape: [Int]
        /// Number of elements (1 for a scalar, whose shape is `[]`).
        public var count: Int { shape.reduce(1, *) }

        public init(dtype: SafeTensorsDType, shape: [Int]) {
            self.dtype = dtype
            self.shape = shape
        }
    }

    private struct Entry {
        var info: TensorInfo
        /// The little-endian element bytes (for a file that was read, a slice sharing the mapped file).
        var bytes: Data
    }

    /// The `__metadata__` map (PyTorch writers put `"format": "pt"` here).
    public var metadata: [String: String]
    /// Where the tensors came from, for error messages: a path or `<memory>`.
    public let source: String
    private var entries: [String: Entry] = [:]

    /// Every tensor name, sorted.
    public var names: [String] { entries.keys.sorted() }

    /// An empty set, to be filled with `set` and written.
    public init(metadata: [String: String] = [:]) {
        self.metadata = metadata
        source = "<memory>"
    }

    /// Reads and validates the file at `url`. The file is memory-mapped; tensors are converted
    /// when asked for.
    public init(contentsOf url: URL) throws {
        let data: Data
        do {
            data = try Data(contentsOf: url, options: .alwaysMapped)
        } catch {
            let reason = (error as NSError).localizedFailureReason ?? error.localizedDescription
            throw SafeTensorsError.unreadable(source: url.path, reason: reason)
        }
        try self.init(data: data, source: url.path)
    }

    /// Parses and validates safetensors bytes. `source` names them in error messages.
    public init(data: Data, source: String = "<memory>") throws {
        self.source = source
        metadata = [:]
        let fileSize = data.count
        guard fileSize >= 8 else {
            throw SafeTensorsError.truncated(
                source: source, detail: "\(fileSize) bytes, fewer than the 8-byte header length")
        }
        let start = data.startIndex
        var headerLength: UInt64 = 0
        for i in 0..<8 { headerLength |= UInt64(data[start + i]) << (8 * UInt64(i)) }
        guard headerLength <= UInt64(fileSize - 8) else {
            throw SafeTensorsError.truncated(
                source: source,
                detail: "header length \(headerLength) exceeds the \(fileSize - 8) bytes after it")
        }
        let headerEnd = start + 8 + Int(headerLength)
        let header = data[(start + 8)..<headerEnd]
        guard header.first == UInt8(ascii: "{") else {
            throw SafeTensorsError.invalidHeader(source: source, detail: "the header does not start with '{'")
        }
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(with: header)
        } catch {
            throw SafeTensorsError.invalidHeader(source: source, detail: "the header is not valid JSON")
        }
        guard let object = parsed as? [String: Any] else {
            throw SafeTensorsError.invalidHeader(source: source, detail: "the header is not a JSON object")
        }
        let dataBytes = data[headerEnd...]
        var spans: [(name: String, range: Range<Int>)] = []
        for (name, value) in object {
            if name == "__metadata__" {
                guard let map = value as? [String: Any], let strings = map as? [String: String] else {
                    throw SafeTensorsError.invalidHeader(
                        source: source, detail: "__metadata__ is not a map of strings to strings")
                }
                metadata = strings
                continue
            }
            let (info, range) = try Self.parseTensor(name, value, dataSize: dataBytes.count, source: source)
            spans.append((name, range))
            entries[name] = Entry(info: info, bytes: dataBytes[(headerEnd + range.lowerBound)..<(headerEnd + range.upperBound)])
        }
        spans.sort { ($0.range.lowerBound, $0.range.upperBound) < ($1.range.lowerBound, $1.range.upperBound) }
        // Empty tensors occupy no bytes and cannot overlap anything.
        let occupied = spans.filter { !$0.range.isEmpty }
        for (previous, next) in zip(occupied, occupied.dropFirst()) where next.range.lowerBound < previous.range.upperBound {
            throw SafeTensorsError.invalidOffsets(
                source: source, tensor: next.name,
                detail: "[\(next.range.lowerBound), \(next.range.upperBound)) overlaps tensor '\(previous.name)' "
                    + "at [\(previous.range.lowerBound), \(previous.range.upperBound))")
        }
    }

    /// Validates one header entry: its dtype, shape and offsets against the data size.
    private static func parseTensor(_ name: String, _ value: Any, dataSize: Int,
                                    source: String) throws -> (TensorInfo, Range<Int>) {
        func invalid(_ detail: String) -> SafeTensorsError {
            .invalidHeader(source: source, detail: "tensor '\(name)': \(detail)")
        }
        guard let fields = value as? [String: Any] else { throw invalid("entry is not a JSON object") }
        guard let dtypeName = fields["dtype"] as? String else { throw invalid("missing string 'dtype'") }
        guard let dtype = SafeTensorsDType(rawValue: dtypeName) else {
            throw SafeTensorsError.unknownDType(source: source, tensor: name, dtype: dtypeName)
        }
        guard let shapeValues = fields["shape"] as? [Any], let shape = integers(shapeValues),
              shape.allSatisfy({ $0 >= 0 }) else {
            throw invalid("'shape' is not a list of non-negative integers")
        }
        guard let offsetValues = fields["data_offsets"] as? [Any], let offsets = integers(offsetValues),
              offsets.count == 2 else {
            throw invalid("'data_offsets' is not a pair of integers")
        }
        let (begin, end) = (offsets[0], offsets[1])
        guard begin >= 0, begin <= end else {
            throw SafeTensorsError.invalidOffsets(source: source, tensor: name,
                                                  detail: "[\(begin), \(end)) is not a valid range")
        }
        guard end <= dataSize else {
            throw SafeTensorsError.invalidOffsets(
                source: source, tensor: name,
                detail: "[\(begin), \(end)) ends beyond the \(dataSize) data bytes (file truncated?)")
        }
        var needed = dtype.size
        for d in shape {
            let (product, overflow) = needed.multipliedReportingOverflow(by: d)
            guard !overflow else { throw invalid("shape \(shape) is too large") }
            needed = product
        }
        guard end - begin == needed else {
            throw SafeTensorsError.invalidOffsets(
                source: source, tensor: name,
                detail: "[\(begin), \(end)) holds \(end - begin) bytes but \(dtype.rawValue) \(shape) needs \(needed)")
        }
        return (TensorInfo(dtype: dtype, shape: shape), begin..<end)
    }

    /// JSON numbers that are exact integers, or nil.
    private static func integers(_ values: [Any]) -> [Int]? {
        var out: [Int] = []
        for value in values {
            guard let number = value as? NSNumber, !JSONText.isBoolean(number) else { return nil }
            let double = number.doubleValue
            guard double == double.rounded(), abs(double) < 0x1p62 else { return nil }
            out.append(number.intValue)
        }
        return out
    }

    // MARK: Reading tensors

    /// The dtype and shape of `name`, or nil when there is no such tensor.
    public func info(_ name: String) -> TensorInfo? { entries[name]?.info }

    /// The tensor's elements as `Float` (F32 exactly; F64 rounded; F16 and BF16 widened).
    public func floats(_ name: String) throws -> [Float] {
        let entry = try floatEntry(name)
        return [Float](unsafeUninitializedCapacity: entry.info.count) { buffer, initialized in
            Self.convertFloats(entry, into: buffer)
            initialized = entry.info.count
        }
    }

    /// Converts the tensor's elements into `destination`, which must hold exactly as many elements
    /// (a parameter's slot in an arena, say), without an intermediate array.
    public func copyFloats(_ name: String, into destination: UnsafeMutableBufferPointer<Float>) throws {
        let entry = try floatEntry(name)
        guard destination.count == entry.info.count else {
            throw SafeTensorsError.countMismatch(source: source, name: name, shape: entry.info.shape,
                                                 destinationCount: destination.count)
        }
        Self.convertFloats(entry, into: destination)
    }

    /// The tensor's elements as `Int64` (I64, or I32 widened).
    public func int64s(_ name: String) throws -> [Int64] {
        let entry = try entry(name)
        let count = entry.info.count
        switch entry.info.dtype {
        case .i64:
            return entry.bytes.withUnsafeBytes { raw in
                (0..<count).map { Int64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * $0, as: Int64.self)) }
            }
        case .i32:
            return entry.bytes.withUnsafeBytes { raw in
                (0..<count).map { Int64(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: Int32.self))) }
            }
        default:
            throw SafeTensorsError.dtypeMismatch(source: source, name: name, dtype: entry.info.dtype,
                                                 requested: "Int64")
        }
    }

    /// The tensor's raw little-endian bytes, whatever its dtype.
    public func bytes(_ name: String) throws -> Data { try entry(name).bytes }

    private func entry(_ name: String) throws -> Entry {
        guard let entry = entries[name] else { throw SafeTensorsError.missingTensor(source: source, name: name) }
        return entry
    }

    private func floatEntry(_ name: String) throws -> Entry {
        let entry = try entry(name)
        guard entry.info.dtype.isFloatingPoint else {
            throw SafeTensorsError.dtypeMismatch(source: source, name: name, dtype: entry.info.dtype,
                                                 requested: "Float")
        }
        return entry
    }

    /// Converts a floating-point entry's bytes into `out` (`out.count == entry.info.count`).
    private static func convertFloats(_ entry: Entry, into out: UnsafeMutableBufferPointer<Float>) {
        let count = entry.info.count
        guard count > 0, let dst = out.baseAddress else { return }
        entry.bytes.withUnsafeBytes { raw in
            switch entry.info.dtype {
            case .f32:
                #if _endian(little)
                UnsafeMutableRawPointer(dst).copyMemory(from: raw.baseAddress!, byteCount: 4 * count)
                #else
                for i in 0..<count {
                    dst[i] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
                }
                #endif
            case .f64:
                for i in 0..<count {
                    dst[i] = Float(Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))))
                }
            case .f16:
                for i in 0..<count {
                    dst[i] = floatFromHalf(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
                }
            case .bf16:
                for i in 0..<count {
                    let bits = UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
                    dst[i] = Float(bitPattern: UInt32(bits) << 16)
                }
            default:
                preconditionFailure("SafeTensors: \(entry.info.dtype) is not floating point")
            }
        }
    }

    // MARK: Building and writing

    /// Adds or replaces an F32 tensor holding a copy of `floats` (row-major, `shape` in
    /// torchvision's layout for checkpoints).
    public mutating func set(_ name: String, shape: [Int], floats: [Float]) {
        floats.withUnsafeBufferPointer { set(name, shape: shape, floats: $0) }
    }

    /// Adds or replaces an F32 tensor holding a copy of `floats` (for example a parameter's slot in
    /// an arena, `UnsafeBufferPointer(start: p.value, count: n)`).
    public mutating func set(_ name: String, shape: [Int], floats: UnsafeBufferPointer<Float>) {
        precondition(shape.reduce(1, *) == floats.count,
                     "SafeTensors.set: '\(name)' has shape \(shape) but \(floats.count) values")
        var bytes = Data(count: 4 * floats.count)
        bytes.withUnsafeMutableBytes { raw in
            #if _endian(little)
            if let base = floats.baseAddress { raw.baseAddress!.copyMemory(from: base, byteCount: 4 * floats.count) }
            #else
            for (i, value) in floats.enumerated() {
                raw.storeBytes(of: value.bitPattern.littleEndian, toByteOffset: 4 * i, as: UInt32.self)
            }
            #endif
        }
        set(name, dtype: .f32, shape: shape, bytes: bytes)
    }

    /// Adds or replaces an I64 tensor (a counter such as `num_batches_tracked`, shape `[]`).
    public mutating func set(_ name: String, shape: [Int], int64s: [Int64]) {
        precondition(shape.reduce(1, *) == int64s.count,
                     "SafeTensors.set: '\(name)' has shape \(shape) but \(int64s.count) values")
        var bytes = Data(capacity: 8 * int64s.count)
        for value in int64s { withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) } }
        set(name, dtype: .i64, shape: shape, bytes: bytes)
    }

    /// Adds or replaces a tensor of any dtype from its raw little-endian bytes.
    public mutating func set(_ name: String, dtype: SafeTensorsDType, shape: [Int], bytes: Data) {
        precondition(name != "__metadata__" && !name.isEmpty, "SafeTensors.set: invalid tensor name '\(name)'")
        precondition(shape.allSatisfy { $0 >= 0 }, "SafeTensors.set: '\(name)' has a negative dimension in \(shape)")
        precondition(bytes.count == dtype.size * shape.reduce(1, *),
                     "SafeTensors.set: '\(name)' \(dtype.rawValue) \(shape) needs \(dtype.size * shape.reduce(1, *)) bytes, got \(bytes.count)")
        entries[name] = Entry(info: TensorInfo(dtype: dtype, shape: shape), bytes: bytes)
    }

    /// Removes a tensor if present.
    public mutating func remove(_ name: String) {
        entries[name] = nil
    }

    /// The tensors in the order the reference writer lays them out: by dtype (widest first), then
    /// by name (bytewise), so each tensor starts aligned to its element size.
    private var layoutOrder: [String] {
        entries.keys.sorted { a, b in
            let (ra, rb) = (entries[a]!.info.dtype.layoutRank, entries[b]!.info.dtype.layoutRank)
            if ra != rb { return ra > rb }
            return Array(a.utf8).lexicographicallyPrecedes(Array(b.utf8))
        }
    }

    /// The header bytes: length prefix, JSON, and spaces up to a multiple of 8, as the reference
    /// implementation writes it.
    private func headerBytes(order: [String]) -> Data {
        var json = "{"
        var fields: [String] = []
        if !metadata.isEmpty {
            let pairs = metadata.keys.sorted().map { JSONText.string($0) + ":" + JSONText.string(metadata[$0]!) }
            fields.append("\"__metadata__\":{" + pairs.joined(separator: ",") + "}")
        }
        var offset = 0
        for name in order {
            let entry = entries[name]!
            let shape = entry.info.shape.map(String.init).joined(separator: ",")
            fields.append(JSONText.string(name) + ":{\"dtype\":\"\(entry.info.dtype.rawValue)\",\"shape\":[\(shape)],"
                          + "\"data_offsets\":[\(offset),\(offset + entry.bytes.count)]}")
            offset += entry.bytes.count
        }
        json += fields.joined(separator: ",") + "}"
        var headerJSON = Array(json.utf8)
        headerJSON += [UInt8](repeating: UInt8(ascii: " "), count: (8 - headerJSON.count % 8) % 8)
        var out = Data(capacity: 8 + headerJSON.count)
        withUnsafeBytes(of: UInt64(headerJSON.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: headerJSON)
        return out
    }

    /// The whole file in memory.
    public func serialized() -> Data {
        let order = layoutOrder
        var out = headerBytes(order: order)
        for name in order { out.append(entries[name]!.bytes) }
        return out
    }

    /// Writes the file atomically (temporary file, fsync, rename, fsync of the folder): on any
    /// failure the previous file at `url`, if any, is left intact and an `AtomicFileError` is thrown.
    public func write(to url: URL) throws {
        let order = layoutOrder
        try AtomicFile.write(to: url) { output in
            try output.write(headerBytes(order: order))
            for name in order { try output.write(entries[name]!.bytes) }
        }
    }
}

/// IEEE half precision to single: exact for every value, subnormals and signed zero included.
func floatFromHalf(_ bits: UInt16) -> Float {
    let sign: Float = bits & 0x8000 != 0 ? -1 : 1
    let exponent = Int((bits >> 10) & 0x1F)
    let mantissa = UInt32(bits & 0x3FF)
    switch exponent {
    case 0:
        return sign * Float(mantissa) * 0x1p-24
    case 31:
        let signBit = UInt32(bits & 0x8000) << 16
        return Float(bitPattern: signBit | 0x7F80_0000 | (mantissa << 13))
    default:
        let signBit = UInt32(bits & 0x8000) << 16
        return Float(bitPattern: signBit | (UInt32(exponent + 112) << 23) | (mantissa << 13))
    }
}
