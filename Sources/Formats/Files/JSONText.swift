import Foundation

/// Writes JSON text by hand where the key order or the number spelling matters: safetensors
/// headers (byte-identical to the Rust reference), metrics lines and report dictionaries (keys in
/// a fixed order, floats in their shortest round-trip form, as Python's `json` writes them).
/// Package-wide, since the classification reports of the Report target write their JSON with it.
package enum JSONText {
    private static let booleanClass = ObjectIdentifier(type(of: NSNumber(value: true)))

    /// `text` as a JSON string literal, escaped as serde_json and Python's `json` (with
    /// `ensure_ascii=False`) do: quotes, backslashes and control characters; everything else raw.
    package static func string(_ text: String) -> String {
        var out = "\""
        out.reserveCapacity(text.utf8.count + 2)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            case _ where scalar.value < 0x20:
                out += "\\u00" + String(scalar.value, radix: 16).leftPadded(to: 2, with: "0")
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// A finite number in its shortest round-trip spelling; NaN and infinities become `null`,
    /// since JSON has no spelling for them.
    package static func number(_ value: Double) -> String {
        guard value.isFinite else { return "null" }
        return value.description
    }

    /// A Float in its own shortest spelling (`0.1`, not `0.10000000149011612`).
    package static func number(_ value: Float) -> String {
        guard value.isFinite else { return "null" }
        return value.description
    }

    /// Serialises a value made of dictionaries (keys sorted), arrays, strings, booleans, integers,
    /// floating-point numbers and `nil`/`NSNull` on one line.
    static func value(_ any: Any?) throws -> String {
        guard let any else { return "null" }
        // An optional hidden inside `Any` (say, a `[String: Any]` holding an `Int?`).
        let mirror = Mirror(reflecting: any)
        if mirror.displayStyle == .optional {
            guard let wrapped = mirror.children.first?.value else { return "null" }
            return try value(wrapped)
        }
        // NSNumbers (from JSONSerialization) cast to Bool and Int alike; ask them what they hold.
        if type(of: any) is NSNumber.Type, let n = any as? NSNumber { return nsNumber(n) }
        switch any {
        case is NSNull: return "null"
        case let v as String: return string(v)
        case let v as Bool: return v ? "true" : "false"
        case let v as Int: return String(v)
        case let v as Int64: return String(v)
        case let v as Int32: return String(v)
        case let v as UInt64: return String(v)
        case let v as UInt32: return String(v)
        case let v as UInt: return String(v)
        case let v as Double: return number(v)
        case let v as Float: return number(v)
        case let v as [String: Any]:
            let fields = try v.keys.sorted().map { string($0) + ":" + (try value(v[$0])) }
            return "{" + fields.joined(separator: ",") + "}"
        case let v as [Any]:
            return "[" + (try v.map { try value($0) }).joined(separator: ",") + "]"
        default:
            throw JSONLinesError.unsupportedValue(String(describing: type(of: any)))
        }
    }

    private static func nsNumber(_ n: NSNumber) -> String {
        if isBoolean(n) { return n.boolValue ? "true" : "false" }
        let type = String(cString: n.objCType)
        if type == "f" || type == "d" { return number(n.doubleValue) }
        return n.stringValue
    }

    /// Whether `n` is a boolean: JSON `true`/`false` arrive as NSNumbers of a class of their own
    /// (its `objCType` alone cannot tell them from 8-bit integers).
    static func isBoolean(_ n: NSNumber) -> Bool {
        ObjectIdentifier(type(of: n)) == booleanClass
    }
}

extension String {
    /// Pads on the left to `width` Unicode scalars, as Python's `format` counts (not graphemes).
    package func leftPadded(to width: Int, with pad: Character = " ") -> String {
        let n = unicodeScalars.count
        return n >= width ? self : String(repeating: pad, count: width - n) + self
    }

    /// Pads on the right to `width` Unicode scalars.
    func rightPadded(to width: Int, with pad: Character = " ") -> String {
        let n = unicodeScalars.count
        return n >= width ? self : self + String(repeating: pad, count: width - n)
    }
}
