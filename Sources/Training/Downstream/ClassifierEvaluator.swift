import Distributed
import Foundation
import Images

/// `simclr evaluate`: a saved classifier rebuilt from its file (model, classes and head from the
/// metadata), run in evaluation mode over one split of a labelled dataset.
public enum ClassifierEvaluator {
    /// The classifier at `weights` on `split` of the data. For the test split of data that has none,
    /// the part a fine-tuning run held out is rebuilt from the fraction and seed it saved in the file.
    public static func evaluate(weights: String, data: String?, format: DatasetFormat, split: DatasetSplit,
                                batchSize: Int = 64, workers: Int = 1, communicator comm: Communicator,
                                log: (String) -> Void = { _ in }) throws -> (classifier: Classifier, result: ClassifierResult) {
        let file = try WeightsFile.open(weights)
        let classifier = try Classifier.build(from: file, path: weights)
        let spec = classifier.spec
        let options = DatasetOptions(channels: spec.inputChannels)
        let dataset: ImageDataset
        do {
            dataset = try openDataset(path: data, format: format, split: split, options: options)
        } catch DatasetError.noSplit where split == .test {
            guard let holdout = heldOutTest(file.metadata["simclr.test_holdout"]) else { throw DatasetError.noSplit(path: data ?? "the synthetic set", split: .test) }
            let full = try openDataset(path: data, format: format, split: .train, options: options)
            dataset = FineTuneSplits.holdOut(full, fraction: holdout.fraction, seed: holdout.seed).test
            log("the data has no test split: using the \(holdout.fraction) of it the fine-tuning run held out for testing")
        }
        guard dataset.isLabelled else { throw TrainingError.invalidOption("\(dataset.name) has no labels to evaluate against") }
        guard dataset.classNames == classifier.classNames else {
            throw TrainingError.invalidOption(Self.classMismatch(data: dataset.classNames, classifier: classifier.classNames))
        }
        log("evaluating \(weights) (\(spec.arch), input \(spec.imageSize)x\(spec.imageSize)x\(spec.inputChannels), "
            + "normalisation mean \(spec.normalization.mean) std \(spec.normalization.std)) on \(dataset.count) images of \(dataset.name)")
        try spec.checkInference(images: min(max(1, batchSize / comm.size), max(dataset.count, 1)))
        let transform = EvaluationTransform(size: spec.imageSize, normalization: spec.normalization)
        let inference = ClassifierInference(dataset: dataset, transform: transform, comm: comm,
                                            batchSize: max(1, batchSize / comm.size), workers: workers)
        let outputs = try inference.run(classifier, logits: true, features: false)
        return (classifier, ClassifierResult(logits: outputs.logits!, labels: outputs.labels, classNames: classifier.classNames))
    }

    /// `{"fraction": f, "seed": s}` as `writeBest` saves it.
    static func heldOutTest(_ json: String?) -> (fraction: Double, seed: UInt64)? {
        guard let json, let object = (try? JSONSerialization.jsonObject(with: Data(json.utf8))) as? [String: Any],
              let fraction = (object["fraction"] as? NSNumber)?.doubleValue,
              let seed = (object["seed"] as? NSNumber)?.uint64Value else { return nil }
        return (fraction, seed)
    }

    /// What differs between the data's classes and the classifier's, naming them.
    static func classMismatch(data: [String], classifier: [String]) -> String {
        let onlyData = data.filter { !classifier.contains($0) }, onlyClassifier = classifier.filter { !data.contains($0) }
        var parts: [String] = []
        if !onlyData.isEmpty { parts.append("the data has \(StateDict.summarize(onlyData)), which the classifier does not know") }
        if !onlyClassifier.isEmpty { parts.append("the classifier has \(StateDict.summarize(onlyClassifier)), which the data lacks") }
        if parts.isEmpty { parts.append("the same \(data.count) classes come in another order (the classifier's: \(StateDict.summarize(classifier)))") }
        return "the data's classes are not the classifier's: " + parts.joined(separator: "; ")
    }
}
