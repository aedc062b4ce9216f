import Foundation

/// How values parsed by `JSONSerialization` are shown in the report's tables: settings exactly as
/// written (strings bare, nested objects flattened to dotted keys, arrays inline), results rounded
/// for reading.
enum JSONDisplay {
    /// `JSONSerialization` hands booleans back as `NSNumber`s; only their class tells them from 0 and 1.
    private static let booleanClass = ObjectIdentifier(type(of: NSNumber(value: true)))

    static func isBoolean(_ number: NSNumber) -> Bool {
        ObjectIdentifier(type(of: number)) == booleanClass
    }

    /// A numeric reading of a parsed value: numbers, and the strings `JSONEncoder` writes for
    /// non-finite floats; `null` (how `JSONLinesWriter` writes NaN) is NaN. Nil for anything else.
    static func double(_ value: Any) -> Double? {
        switch value {
        case let n as NSNumber: return isBoolean(n) ? nil : n.doubleValue
        case is NSNull: return .nan
        case let s as String:
            switch s {
            case "NaN", "nan": return .nan
            case "Infinity", "inf": return .infinity
            case "-Infinity", "-inf": return -.infinity
            default: return nil
            }
        default: return nil
        }
    }

    /// `(dotted key, text)` rows of an object, sorted by key; nested objects are flattened and
    /// every other value is shown with `format` (settings exactly, by default).
    static func flatten(_ object: [String: Any], prefix: String = "",
                        format: (Any) -> String = { text($0, quoted: false) }) -> [(key: String, value: String)] {
        var rows: [(key: String, value: String)] = []
        for key in object.keys.sorted() {
            let name = prefix.isEmpty ? key : prefix + "." + key
            if let nested = object[key] as? [String: Any], !nested.isEmpty {
                rows += flatten(nested, prefix: name, format: format)
            } else {
                rows.append((name, format(object[key]!)))
            }
        }
        return rows
    }

    /// A setting as written: a bare string at the top level, JSON-like text inside arrays and objects.
    static func text(_ value: Any, quoted: Bool) -> String {
        switch value {
        case is NSNull: return "null"
        case let s as String: return quoted ? "\"" + s + "\"" : s
        case let n as NSNumber:
            if isBoolean(n) { return n.boolValue ? "true" : "false" }
            return exact(n.doubleValue)
        case let array as [Any]: return "[" + array.map { text($0, quoted: true) }.joined(separator: ", ") + "]"
        case let object as [String: Any]:
            return "{" + object.keys.sorted().map { "\($0): " + text(object[$0]!, quoted: true) }.joined(separator: ", ") + "}"
        default: return "\(value)"
        }
    }

    /// Integers without a fraction, other numbers in their shortest round-trip form.
    static func exact(_ v: Double) -> String {
        if v.isFinite && v == v.rounded() && abs(v) < 1e15 { return String(Int64(v)) }
        return v.description
    }

    /// A result for reading: integers whole, large numbers to one decimal, others to 4 significant
    /// digits (0.8812, 3.5e-05).
    static func rounded(_ v: Double) -> String {
        guard v.isFinite else { return v.description }
        if v == v.rounded() && abs(v) < 1e15 { return String(Int64(v)) }
        if abs(v) >= 1000 { return String(format: "%.1f", v) }
        return String(format: "%.4g", v)
    }

    /// A result value: numbers rounded, anything else as a setting.
    static func result(_ value: Any) -> String {
        if let n = value as? NSNumber, !isBoolean(n) { return rounded(n.doubleValue) }
        return text(value, quoted: false)
    }
}
