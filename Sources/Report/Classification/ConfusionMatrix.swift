import Formats
import Foundation

/// Counts of (true class, predicted class) pairs: row = true label, column = predicted label,
/// as scikit-learn's `confusion_matrix(y_true, y_pred, labels=range(K))`.
public struct ConfusionMatrix: Equatable {
    public let classCount: Int
    /// `counts[t * classCount + p]`: samples of true class `t` predicted as `p`.
    public private(set) var counts: [Int]

    /// An all-zero matrix, to be filled with `add`.
    public init(classCount: Int) {
        precondition(classCount > 0, "ConfusionMatrix: classCount must be positive, got \(classCount)")
        self.classCount = classCount
        counts = [Int](repeating: 0, count: classCount * classCount)
    }

    /// The matrix of paired labels, each in `0..<classCount`.
    public init(trueLabels: [Int], predictedLabels: [Int], classCount: Int) {
        precondition(trueLabels.count == predictedLabels.count,
                     "ConfusionMatrix: \(trueLabels.count) true labels but \(predictedLabels.count) predictions")
        self.init(classCount: classCount)
        for (t, p) in zip(trueLabels, predictedLabels) { add(trueLabel: t, predictedLabel: p) }
    }

    /// Counts one sample.
    public mutating func add(trueLabel: Int, predictedLabel: Int) {
        precondition((0..<classCount).contains(trueLabel) && (0..<classCount).contains(predictedLabel),
                     "ConfusionMatrix: label pair (\(trueLabel), \(predictedLabel)) outside 0..<\(classCount)")
        counts[trueLabel * classCount + predictedLabel] += 1
    }

    /// Samples of class `trueLabel` predicted as `predictedLabel`.
    public subscript(trueLabel: Int, predictedLabel: Int) -> Int {
        counts[trueLabel * classCount + predictedLabel]
    }

    /// Number of samples counted.
    public var total: Int { counts.reduce(0, +) }

    /// Samples whose true class is `c` (its support).
    public func support(_ c: Int) -> Int { (0..<classCount).reduce(0) { $0 + self[c, $1] } }

    /// Samples predicted as class `c`.
    public func predictedCount(_ c: Int) -> Int { (0..<classCount).reduce(0) { $0 + self[$1, c] } }

    /// The matrix as CSV: a header row `true\predicted,<names>`, then one row per true class led by
    /// its name. Names are quoted when they hold commas, quotes or line breaks.
    public func csv(classNames: [String]) -> String {
        precondition(classNames.count == classCount,
                     "ConfusionMatrix.csv: \(classNames.count) names for \(classCount) classes")
        var lines = [(["true\\predicted"] + classNames).map(Self.csvField).joined(separator: ",")]
        for t in 0..<classCount {
            lines.append(([Self.csvField(classNames[t])] + (0..<classCount).map { String(self[t, $0]) })
                .joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Writes `csv(classNames:)` to `url` atomically.
    public func writeCSV(to url: URL, classNames: [String]) throws {
        try AtomicFile.write(Data(csv(classNames: classNames).utf8), to: url)
    }

    private static func csvField(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
