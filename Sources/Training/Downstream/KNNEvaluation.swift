import Distributed
import Formats
import Foundation
import Images
import Optim
import Probes
import Report
import Tensors

/// Weighted k-NN accuracy of frozen features (Wu et al. 2018, as SimCLR-era code monitors it): the
/// train split's features are the memory, each test image votes among its `k` most cosine-similar
/// memory rows with weights `exp(similarity / temperature)`.
///
/// ```swift
/// let result = try KNNEvaluation.evaluate(memory: (bank, bankLabels), queries: (q, qLabels),
///                                         classNames: names, k: 20, temperature: 0.07)
/// print(result.top1, result.top5)
/// try result.write(to: outDirectory, settings: ["weights": path])
/// ```
public struct KNNEvaluation {
    public var k: Int
    public var temperature: Float
    /// Test-split accuracy in [0, 1].
    public var top1: Double
    public var top5: Double
    /// The classification report of the queries' predictions (scikit-learn's layout).
    public var report: ClassificationReport
    public var memoryCount: Int
    public var queryCount: Int
    public var featureDimension: Int

    /// Classifies `queries` against `memory`. `features: [N, F]`, labels in `0..<classNames.count`.
    /// Throws a `TrainingError` for unlabelled samples or a memory smaller than `k`.
    public static func evaluate(memory: (features: Tensor, labels: [Int]), queries: (features: Tensor, labels: [Int]),
                                classNames: [String], k: Int = 20, temperature: Float = 0.07) throws -> KNNEvaluation {
        precondition(memory.features.rank == 2 && queries.features.rank == 2
                     && memory.features.shape[1] == queries.features.shape[1],
                     "KNNEvaluation: memory \(memory.features.shape), queries \(queries.features.shape)")
        guard !classNames.isEmpty, !memory.labels.contains(where: { $0 < 0 }), !queries.labels.contains(where: { $0 < 0 }) else {
            throw TrainingError.invalidOption("k-NN needs labelled data: both splits must have a class for every image")
        }
        guard memory.labels.count >= k else {
            throw TrainingError.invalidOption("--k \(k) exceeds the \(memory.labels.count) images of the train split")
        }
        let result: KNNClassifier.Evaluation
        do {
            let classifier = try KNNClassifier(k: k, weighting: .exponential(temperature: temperature))
            try classifier.fit(features: memory.features, labels: memory.labels, classes: classNames.count)
            result = try classifier.evaluate(queries: queries.features, labels: queries.labels)
        } catch let error as OptimError {
            throw TrainingError.invalidOption("\(error)")
        } catch let error as ProbeError {
            throw TrainingError.invalidOption("\(error)")
        }
        return KNNEvaluation(
            k: k, temperature: temperature, top1: result.top1, top5: result.top5,
            report: ClassificationReport(trueLabels: queries.labels, predictedLabels: result.predictions,
                                         classNames: classNames),
            memoryCount: memory.labels.count, queryCount: queries.labels.count,
            featureDimension: memory.features.shape[1])
    }

    /// Features of both splits with `encoder`, then `evaluate`. The splits must name the same classes.
    public static func run(encoder: EmbeddingEncoder, memory: ImageDataset, queries: ImageDataset, k: Int = 20,
                           temperature: Float = 0.07, batchSize: Int = 64, workers: Int = 1,
                           communicator: Communicator = SingleProcessCommunicator()) throws -> KNNEvaluation {
        guard memory.classNames == queries.classNames else {
            throw TrainingError.invalidOption(
                "the train and test splits name different classes (\(memory.classNames.count) and \(queries.classNames.count))")
        }
        // Checked before the (long) feature pass over the memory.
        guard memory.count >= k else {
            throw TrainingError.invalidOption("--k \(k) exceeds the \(memory.count) images of the train split")
        }
        let bank = try encoder.features(of: memory, batchSize: batchSize, workers: workers, communicator: communicator)
        let q = try encoder.features(of: queries, batchSize: batchSize, workers: workers, communicator: communicator)
        return try evaluate(memory: bank, queries: q, classNames: memory.classNames, k: k, temperature: temperature)
    }

    /// The temperature as the Double its shortest Float text reads as (0.07, not 0.07000000029802322).
    var decimalTemperature: Double { Double("\(temperature)") ?? Double(temperature) }

    /// The numbers of `summary.json`.
    public var summary: [String: Any] {
        ["knn_top1": top1, "knn_top5": top5, "mean_per_class_accuracy": report.meanPerClassAccuracy,
         "k": k, "temperature": decimalTemperature, "memory_images": memoryCount, "query_images": queryCount,
         "feature_dimension": featureDimension]
    }

    /// Writes `report.txt`, `report.json`, `confusion.csv` and `summary.json` into `directory`
    /// (created if needed), and `config.json` (`command: knn` with `settings`) so that
    /// `simclr report` can show the folder. A folder holding another command's `config.json` is
    /// refused rather than overwritten.
    public func write(to directory: URL, settings: [String: Any]) throws {
        let fm = FileManager.default
        let configURL = directory.appendingPathComponent("config.json")
        if let data = try? Data(contentsOf: configURL),
           let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
           (object["command"] as? String) != "knn" {
            throw TrainingError.invalidOption(
                "\(directory.path) holds another run (its config.json is not a k-NN evaluation's); choose another --out")
        }
        do {
            try fm.createDirectory(at: directory, withIntermediateDirectories: true)
            var config = settings
            config["command"] = "knn"
            config["k"] = k
            config["temperature"] = decimalTemperature
            try AtomicFile.write(try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted, .sortedKeys]),
                                 to: configURL)
            try report.writeText(to: directory.appendingPathComponent("report.txt"), digits: 4)
            try report.writeJSON(to: directory.appendingPathComponent("report.json"))
            try report.confusion.writeCSV(to: directory.appendingPathComponent("confusion.csv"), classNames: report.classNames)
            try AtomicFile.write(try JSONSerialization.data(withJSONObject: summary, options: [.prettyPrinted, .sortedKeys]),
                                 to: directory.appendingPathComponent("summary.json"))
        } catch let error as TrainingError {
            throw error
        } catch {
            throw TrainingError.io("cannot write the k-NN results to \(directory.path): \(error)")
        }
    }
}
