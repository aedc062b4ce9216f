import Formats
import Foundation
import Report
import Tensors

/// The files a finished fine-tuning run leaves in its folder besides config, metrics and
/// checkpoints: the test report (`report.txt`, `report.json`, `confusion.csv`, `confusion.svg`),
/// `summary.json`, the test embeddings (`embeddings.npy`, `embeddings.labels.txt`,
/// `embeddings.classes.txt`) and the curves (`loss.svg`, `accuracy.svg`).
struct FineTuneResults {
    let config: FineTuneConfig
    let summary: FineTuneSummary
    let progress: FineTuneProgress
    let splits: FineTuneSplits
    /// The test images' encoder features with the tested weights: `[N, F]`, and their labels.
    let embeddings: Tensor
    let labels: [Int]

    func write(to directory: URL) throws {
        let test = summary.test
        try test.write(to: directory)
        var fields: [String: Any] = [
            "test_accuracy": test.accuracy, "test_top5_accuracy": test.top5Accuracy,
            "mean_per_class_accuracy": test.meanPerClassAccuracy, "test_loss": test.loss, "test_images": test.count,
            "test_source": splits.testSource, "best_val_accuracy": progress.bestValAccuracy,
            "best_epoch": progress.bestEpoch, "epochs": summary.epochs, "train_images": summary.trainImages,
            "val_images": summary.validationImages, "wall_seconds": summary.seconds, "mode": config.mode.rawValue,
            "classes": splits.classNames.count, "skipped_images": summary.skippedImages,
        ]
        if let loss = progress.bestValLoss { fields["best_val_loss"] = loss }
        let json = try JSONSerialization.data(withJSONObject: fields, options: [.prettyPrinted, .sortedKeys])
        try AtomicFile.write(json, to: directory.appendingPathComponent("summary.json"))

        let n = embeddings.shape[0], f = embeddings.shape[1]
        try NpyFile.write(floats: embeddings.array, shape: [n, f], to: directory.appendingPathComponent("embeddings.npy"))
        precondition(labels.count == n, "FineTuneResults: \(labels.count) labels for \(n) embeddings")
        try AtomicFile.write(Data(labels.map { "\($0)\n" }.joined().utf8),
                             to: directory.appendingPathComponent("embeddings.labels.txt"))
        try AtomicFile.write(Data((splits.classNames.joined(separator: "\n") + "\n").utf8),
                             to: directory.appendingPathComponent("embeddings.classes.txt"))
        try writeCurves(to: directory)
    }

    /// `loss.svg` and `accuracy.svg` from `metrics.jsonl` (train and validation per epoch).
    private func writeCurves(to directory: URL) throws {
        guard let text = try? String(contentsOf: directory.appendingPathComponent("metrics.jsonl"), encoding: .utf8) else { return }
        var byEpoch: [Int: [String: Double]] = [:]
        for line in text.split(separator: "\n") {
            guard let object = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any],
                  let epoch = (object["epoch"] as? NSNumber)?.intValue else { continue }
            var record: [String: Double] = [:]
            for (key, value) in object { if let v = (value as? NSNumber)?.doubleValue { record[key] = v } }
            byEpoch[epoch] = record   // a resumed run's repeated epoch: the later line wins
        }
        let epochs = byEpoch.keys.sorted()
        guard !epochs.isEmpty else { return }
        func series(_ key: String) -> [Double] { epochs.map { byEpoch[$0]![key] ?? .nan } }
        let x = epochs.map(Double.init)
        var loss = LineChart(title: "Cross-entropy per epoch", xLabel: "epoch", yLabel: "loss")
        loss.add("train", x: x, y: series("train_loss"))
        loss.add("validation", x: x, y: series("val_loss"))
        try AtomicFile.write(Data(loss.svg().utf8), to: directory.appendingPathComponent("loss.svg"))
        var accuracy = LineChart(title: "Accuracy per epoch", xLabel: "epoch", yLabel: "accuracy")
        accuracy.add("train", x: x, y: series("train_accuracy"))
        accuracy.add("validation", x: x, y: series("val_accuracy"))
        try AtomicFile.write(Data(accuracy.svg().utf8), to: directory.appendingPathComponent("accuracy.svg"))
    }
}
