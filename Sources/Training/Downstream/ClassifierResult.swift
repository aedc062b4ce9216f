import Formats
import Foundation
import Optim
import Report
import Tensors

/// How well a classifier did on a labelled set: mean cross-entropy, scikit-learn's classification
/// report (with the confusion matrix), top-5 accuracy and the mean per-class accuracy (the metric
/// SimCLR reports for Oxford-IIIT Pets).
public struct ClassifierResult {
    public let loss: Double
    public let report: ClassificationReport
    /// Top-k accuracy with k = min(5, classes).
    public let top5Accuracy: Double
    public var accuracy: Double { report.accuracy }
    public var meanPerClassAccuracy: Double { report.meanPerClassAccuracy }
    public var count: Int { report.confusion.total }

    /// The result of `logits: [N, K]` against `labels` in `0..<K`.
    public init(logits: Tensor, labels: [Int], classNames: [String]) {
        precondition(logits.rank == 2 && logits.shape[1] == classNames.count && logits.shape[0] == labels.count,
                     "ClassifierResult: logits \(logits.shape) for \(labels.count) labels and \(classNames.count) classes")
        let k = classNames.count
        loss = labels.isEmpty ? 0 : Double(try! CrossEntropyLoss().loss(logits: logits, labels: labels))
        report = ClassificationReport(trueLabels: labels, predictedLabels: CrossEntropyLoss.predictions(logits: logits),
                                      classNames: classNames)
        top5Accuracy = ClassificationMetrics.topKAccuracy(scores: logits.array, classCount: k, trueLabels: labels,
                                                          k: min(5, k))
    }

    /// The report's digits in `report.txt` (scikit-learn's default is 2; 4 keeps differences visible).
    public static let digits = 4

    /// Writes `report.txt` (scikit-learn's text layout), `report.json` (its `output_dict` shape),
    /// `confusion.csv` and `confusion.svg` into `directory`.
    public func write(to directory: URL) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try report.writeText(to: directory.appendingPathComponent("report.txt"), digits: Self.digits)
        try report.writeJSON(to: directory.appendingPathComponent("report.json"))
        try report.confusion.writeCSV(to: directory.appendingPathComponent("confusion.csv"), classNames: report.classNames)
        let heatmap = Heatmap(confusion: report.confusion, classNames: report.classNames)
        try AtomicFile.write(Data(heatmap.svg().utf8), to: directory.appendingPathComponent("confusion.svg"))
    }

    /// The headline numbers under `prefix` (`test_accuracy`, `test_top5_accuracy`, ...).
    public func summary(prefix: String) -> [String: Any] {
        [prefix + "accuracy": accuracy, prefix + "top5_accuracy": top5Accuracy,
         "mean_per_class_accuracy": meanPerClassAccuracy, prefix + "loss": loss, prefix + "images": count]
    }
}
