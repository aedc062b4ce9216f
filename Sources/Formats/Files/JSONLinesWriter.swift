import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a JSON-lines file could not be written.
public enum JSONLinesError: Error, LocalizedError, CustomStringConvertible, Equatable {
    case cannotOpen(path: String, reason: String)
    case cannotWrite(path: String, reason: String)
    /// A value that has no JSON spelling (the type's name).
    case unsupportedValue(String)

    public var description: String {
        switch self {
        case let .cannotOpen(path, reason): return "cannot open \(path) for appending: \(reason)"
        case let .cannotWrite(path, reason): return "cannot append to \(path): \(reason)"
        case let .unsupportedValue(type): return "a value of type \(type) cannot be written as JSON"
        }
    }
    public var errorDescription: String? { description }
}

/// Appends one JSON object per line to a file (`metrics.jsonl`), the format pandas
/// (`read_json(lines=True)`) and `jq` read. Each line goes to the file in a single unbuffered
/// `write` on a descriptor opened with O_APPEND, so a crash never leaves half a line behind a
/// buffer and a reader tailing the file sees whole records.
public final class JSONLinesWriter {
    /// The file being appended to.
    public let url: URL
    private var descriptor: Int32
    private let lock = NSLock()

    /// Opens `url` for appending, creating it if needed; `truncate` starts it empty instead (a
    /// fresh run, as opposed to a resumed one).
    public init(url: URL, truncate: Bool = false) throws {
        self.url = url
        let flags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (truncate ? O_TRUNC : 0)
        descriptor = open(url.path, flags, 0o644)
        guard descriptor >= 0 else {
            throw JSONLinesError.cannotOpen(path: url.path, reason: String(cString: strerror(errno)))
        }
    }

    deinit { close() }

    /// Appends `fields` as one line, keys sorted. Values may be strings, booleans, integers,
    /// floating-point numbers (NaN and infinities are written as `null`), `nil`, and arrays or
    /// dictionaries of those.
    public func write(_ fields: [String: Any]) throws {
        try append(try JSONText.value(fields))
    }

    /// Appends an `Encodable` value as one line, keys sorted. NaN and infinities are written as
    /// the strings "NaN", "Infinity" and "-Infinity" (JSONEncoder cannot write `null` for them).
    /// (Labelled so that a dictionary literal never silently picks this overload.)
    public func write<T: Encodable>(record value: T) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        let data = try encoder.encode(value)
        try append(String(decoding: data, as: UTF8.self))
    }

    /// Closes the file; later writes throw.
    public func close() {
        lock.lock()
        defer { lock.unlock() }
        if descriptor >= 0 { closeDescriptor(descriptor) }
        descriptor = -1
    }

    private func append(_ line: String) throws {
        var bytes = Array(line.utf8)
        bytes.append(UInt8(ascii: "\n"))
        lock.lock()
        defer { lock.unlock() }
        guard descriptor >= 0 else {
            throw JSONLinesError.cannotWrite(path: url.path, reason: "the writer is closed")
        }
        let code = bytes.withUnsafeBytes { writeAll(descriptor, $0) }
        if code != 0 {
            throw JSONLinesError.cannotWrite(path: url.path, reason: String(cString: strerror(code)))
        }
    }
}
