import Foundation

/// Encodable values compared and printed as JSON text: one way to diff configs field by field.
enum JSONValue {
    /// Each top-level field of `value`'s JSON object, as canonical (sorted-key) JSON text.
    static func object<T: Encodable>(of value: T) throws -> [String: String] {
        let data = try JSONEncoder().encode(value)
        guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else { return [:] }
        var result: [String: String] = [:]
        for (key, field) in object {
            let text = try JSONSerialization.data(withJSONObject: field, options: [.sortedKeys, .fragmentsAllowed])
            result[key] = String(decoding: text, as: UTF8.self)
        }
        return result
    }

    /// Pretty, sorted JSON for files people read.
    static func pretty<T: Encodable>(_ value: T) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(value)
    }
}
