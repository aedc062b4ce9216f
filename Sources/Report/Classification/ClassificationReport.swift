import Formats
import Foundation

/// Per-class precision, recall, F1 and support with their averages, laid out as scikit-learn's
/// `classification_report(y_true, y_pred, labels=range(K), target_names=names)` (text, and the
/// `output_dict=True` shape as JSON).
///
/// Undefined ratios (a class never predicted has no precision; a class with no samples has no
/// recall) are 0, as with scikit-learn's default `zero_division="warn"`. Macro averages run over
/// every class, including classes absent from the data; weighted averages weight by support.
public struct ClassificationReport {
    /// One row of the report.
    public struct Scores: Equatable, Sendable {
        public let precision: Double
        public let recall: Double
        public let f1Score: Double
        /// Number of samples of the class (for an average row, of all classes).
        public let support: Int

        public init(precision: Double, recall: Double, f1Score: Double, support: Int) {
            self.precision = precision
            self.recall = recall
            self.f1Score = f1Score
            self.support = support
        }
    }

    public let classNames: [String]
    /// Rows in class order.
    public let perClass: [Scores]
    /// Fraction of samples predicted correctly.
    public let accuracy: Double
    public let macroAverage: Scores
    public let weightedAverage: Scores
    public let confusion: ConfusionMatrix

    /// The report of paired labels in `0..<classNames.count`.
    public init(trueLabels: [Int], predictedLabels: [Int], classNames: [String]) {
        self.init(confusion: ConfusionMatrix(trueLabels: trueLabels, predictedLabels: predictedLabels,
                                             classCount: classNames.count),
                  classNames: classNames)
    }

    /// The report of an already accumulated confusion matrix.
    public init(confusion: ConfusionMatrix, classNames: [String]) {
        precondition(classNames.count == confusion.classCount,
                     "ClassificationReport: \(classNames.count) names for \(confusion.classCount) classes")
        precondition(Set(classNames).count == classNames.count,
                     "ClassificationReport: class names must be distinct (they are the keys of the JSON report)")
        self.classNames = classNames
        self.confusion = confusion
        func ratio(_ a: Int, _ b: Int) -> Double { b == 0 ? 0 : Double(a) / Double(b) }
        let rows = (0..<confusion.classCount).map { c in
            let truePositives = confusion[c, c]
            let support = confusion.support(c)
            let predicted = confusion.predictedCount(c)
            // 2tp / (2tp + fp + fn): equal to the harmonic mean where that is defined, and 0 where
            // precision and recall are both 0 or undefined.
            return Scores(precision: ratio(truePositives, predicted), recall: ratio(truePositives, support),
                          f1Score: ratio(2 * truePositives, support + predicted), support: support)
        }
        perClass = rows
        let total = confusion.total
        accuracy = ratio((0..<confusion.classCount).reduce(0) { $0 + confusion[$1, $1] }, total)
        let k = Double(rows.count)
        macroAverage = Scores(precision: rows.reduce(0) { $0 + $1.precision } / k,
                              recall: rows.reduce(0) { $0 + $1.recall } / k,
                              f1Score: rows.reduce(0) { $0 + $1.f1Score } / k,
                              support: total)
        func weighted(_ score: (Scores) -> Double) -> Double {
            total == 0 ? 0 : rows.reduce(0) { $0 + score($1) * Double($1.support) } / Double(total)
        }
        weightedAverage = Scores(precision: weighted { $0.precision }, recall: weighted { $0.recall },
                                 f1Score: weighted { $0.f1Score }, support: total)
    }

    /// Mean over classes with at least one sample of the fraction of that class predicted
    /// correctly (scikit-learn's `balanced_accuracy_score`).
    public var meanPerClassAccuracy: Double {
        let present = perClass.filter { $0.support > 0 }
        return present.isEmpty ? 0 : present.reduce(0) { $0 + $1.recall } / Double(present.count)
    }

    /// The text of `classification_report(..., digits: digits)`, character for character.
    public func text(digits: Int = 2) -> String {
        let lastHeading = "weighted avg"
        let width = max(classNames.map { $0.unicodeScalars.count }.max() ?? 0, lastHeading.count, digits)
        func number(_ v: Double) -> String { " " + String(format: "%.\(digits)f", v).leftPadded(to: 9) }
        func row(_ name: String, _ s: Scores) -> String {
            name.leftPadded(to: width) + " " + number(s.precision) + number(s.recall) + number(s.f1Score)
                + " " + String(s.support).leftPadded(to: 9) + "\n"
        }
        var out = String(repeating: " ", count: width) + " "
        for header in ["precision", "recall", "f1-score", "support"] { out += " " + header.leftPadded(to: 9) }
        out += "\n\n"
        for (name, scores) in zip(classNames, perClass) { out += row(name, scores) }
        out += "\n"
        out += "accuracy".leftPadded(to: width) + " " + String(repeating: " ", count: 20) + number(accuracy)
            + " " + String(macroAverage.support).leftPadded(to: 9) + "\n"
        out += row("macro avg", macroAverage)
        out += row(lastHeading, weightedAverage)
        return out
    }

    /// The `output_dict=True` report as JSON text in scikit-learn's key order: one object per class
    /// name (`precision`, `recall`, `f1-score`, `support` as a float), then `accuracy` (a number),
    /// `macro avg` and `weighted avg`. Indented like `json.dumps(report, indent=2)`.
    public func json() -> String {
        func object(_ s: Scores) -> String {
            "{\n    \"precision\": \(JSONText.number(s.precision)),\n    \"recall\": \(JSONText.number(s.recall)),\n"
                + "    \"f1-score\": \(JSONText.number(s.f1Score)),\n    \"support\": \(JSONText.number(Double(s.support)))\n  }"
        }
        var fields = zip(classNames, perClass).map { "  " + JSONText.string($0) + ": " + object($1) }
        fields.append("  \"accuracy\": " + JSONText.number(accuracy))
        fields.append("  \"macro avg\": " + object(macroAverage))
        fields.append("  \"weighted avg\": " + object(weightedAverage))
        return "{\n" + fields.joined(separator: ",\n") + "\n}\n"
    }

    /// Writes `text()` to `url` atomically.
    public func writeText(to url: URL, digits: Int = 2) throws {
        try AtomicFile.write(Data(text(digits: digits).utf8), to: url)
    }

    /// Writes `json()` to `url` atomically.
    public func writeJSON(to url: URL) throws {
        try AtomicFile.write(Data(json().utf8), to: url)
    }
}
