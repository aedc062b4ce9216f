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

    /// The top-level fields (outside `ignoring`) whose JSON differs between `a` and `b`, sorted: the
    /// settings of a run that a resume may not change.
    static func differingFields<T: Encodable>(_ a: T, _ b: T, ignoring: Set<String>) -> [String] {
        let mine = (try? object(of: a)) ?? [:]
        let theirs = (try? object(of: b)) ?? [:]
        return Set(mine.keys).union(theirs.keys).subtracting(ignoring).filter { mine[$0] != theirs[$0] }.sorted()
    }

    /// Pretty, sorted JSON for files people read.
    static func pretty<T: Encodable>(_ value: T) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(value)
    }
}
