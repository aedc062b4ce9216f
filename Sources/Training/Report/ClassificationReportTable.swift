import Foundation

/// A scikit-learn classification report read back for display: from `report.json` (the
/// `output_dict=True` shape) when present, else parsed from the text of `report.txt`.
struct ClassificationReportTable {
    static let header = ["class", "precision", "recall", "f1-score", "support"]

    /// Rows of `header`'s columns: each class, then `accuracy`, `macro avg`, `weighted avg`.
    let rows: [[String]]

    /// Reads the JSON report. Classes keep the file's order (a dictionary forgets it, so each key is
    /// placed by where it first appears in the text).
    init(json data: Data) throws {
        guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw ReportFileError("not a JSON object")
        }
        let text = String(decoding: data, as: UTF8.self)
        func position(_ key: String) -> String.Index {
            text.range(of: "\"" + key + "\"")?.lowerBound ?? text.endIndex
        }
        let averages = ["macro avg", "weighted avg", "micro avg", "samples avg"]
        let classes = object.keys.filter { $0 != "accuracy" && !averages.contains($0) }.sorted { position($0) < position($1) }
        func scoreRow(_ name: String) throws -> [String] {
            guard let scores = object[name] as? [String: Any] else { throw ReportFileError("'\(name)' is not an object of scores") }
            func value(_ key: String) -> Double { (scores[key] as? NSNumber)?.doubleValue ?? .nan }
            return [name, Self.score(value("precision")), Self.score(value("recall")), Self.score(value("f1-score")),
                    JSONDisplay.exact(value("support"))]
        }
        var rows = try classes.map(scoreRow)
        if let accuracy = (object["accuracy"] as? NSNumber)?.doubleValue {
            let support = (object["weighted avg"] as? [String: Any])?["support"] as? NSNumber
            rows.append(["accuracy", "", "", Self.score(accuracy), support.map { JSONDisplay.exact($0.doubleValue) } ?? ""])
        }
        for name in averages where object[name] != nil { rows.append(try scoreRow(name)) }
        self.rows = rows
    }

    /// Parses `classification_report`'s text: a header line, then lines ending in four numbers
    /// (precision, recall, f1, support; the name is everything before them, spaces included) or,
    /// for accuracy, two numbers.
    init(text: String) throws {
        var rows: [[String]] = []
        var sawHeader = false
        for line in text.split(whereSeparator: \.isNewline) {
            let fields = line.split(separator: " ").map(String.init)
            if fields.isEmpty { continue }
            if !sawHeader {
                guard fields == Array(Self.header.dropFirst()) else { throw ReportFileError("no precision/recall/f1-score/support header") }
                sawHeader = true
                continue
            }
            let numeric = fields.reversed().prefix { Double($0) != nil }.count
            // Numbers stay as written: the text's precision is all there is.
            let name = fields.dropLast(min(numeric, 4)).joined(separator: " ")
            let numbers = Array(fields.suffix(min(numeric, 4)))
            switch numbers.count {
            case 4: rows.append([name] + numbers)
            case 2 where name == "accuracy": rows.append([name, "", "", numbers[0], numbers[1]])
            default: throw ReportFileError("cannot read the line '\(line)'")
            }
        }
        guard !rows.isEmpty else { throw ReportFileError("no rows") }
        self.rows = rows
    }

    private static func score(_ v: Double) -> String { v.isFinite ? String(format: "%.4f", v) : "" }
}
