import Tensors

/// The frozen encoder's features of the training and validation images, computed once (split across
/// ranks, gathered on all) in evaluation mode; the test images' only at the end, for the best head.
struct CachedFeatures {
    let train: ClassifierOutputs
    let validation: ClassifierOutputs

    init(_ run: FineTuneRun) throws {
        run.context.log("computing features once (frozen encoder, evaluation mode)")
        train = try run.inference(run.splits.train, logits: false, features: true)
        validation = try run.inference(run.splits.validation, logits: false, features: true)
    }

    /// The head's result on features `x` [N, F] with `labels`.
    static func result(of run: FineTuneRun, on x: Tensor, labels: [Int]) -> ClassifierResult {
        ClassifierResult(logits: run.classifier.head.forward(x, mode: .inference), labels: labels,
                         classNames: run.splits.classNames)
    }

    /// The best head, loaded, on the test images' features.
    func test(_ run: FineTuneRun) throws -> (ClassifierResult, ClassifierOutputs) {
        try run.loadBest()
        let test = try run.inference(run.splits.test, logits: false, features: true)
        return (Self.result(of: run, on: features(test), labels: test.labels), test)
    }

    /// The features of an inference pass that computed them.
    func features(_ outputs: ClassifierOutputs) -> Tensor {
        guard let x = outputs.features else { preconditionFailure("CachedFeatures: a pass without features") }
        return x
    }
}
