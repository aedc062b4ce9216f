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

    /// Decodes a stored value (a run's config, a file's metadata). A field that is missing or does
    /// not parse is one line naming `source` (the file, and the metadata key) and the field's path.
    static func decode<T: Decodable>(_ type: T.Type, from json: String, source: String) throws -> T {
        do {
            return try JSONDecoder().decode(type, from: Data(json.utf8))
        } catch let error as DecodingError {
            throw TrainingError.invalidOption("\(source): \(describe(error))")
        }
    }

    /// A decoding error as the field it concerns and what is wrong with it.
    static func describe(_ error: DecodingError) -> String {
        func path(_ keys: [CodingKey]) -> String {
            keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
                .replacingOccurrences(of: ".[", with: "[")
        }
        switch error {
        case .keyNotFound(let key, let context):
            return "key '\(path(context.codingPath + [key]))' is missing"
        case .valueNotFound(_, let context):
            return "key '\(path(context.codingPath))' is null"
        case .typeMismatch(let type, let context):
            return "key '\(path(context.codingPath))' is not a \(type)"
        case .dataCorrupted(let context):
            return context.codingPath.isEmpty ? "not valid JSON"
                : "key '\(path(context.codingPath))': \(context.debugDescription)"
        @unknown default:
            return "\(error)"
        }
    }
}
