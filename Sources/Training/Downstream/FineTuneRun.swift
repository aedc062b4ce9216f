import Formats
import Foundation
import Images
import Optim
import Tensors

/// One fine-tuning run as its training paths see it: the settings, the data, the network and its
/// optimiser, how far the run got, and the end of an epoch (scheduler, best checkpoint, metrics,
/// last checkpoint), which every path shares.
final class FineTuneRun {
    let config: FineTuneConfig
    let context: RunContext
    let splits: FineTuneSplits
    let classifier: Classifier
    /// nil for an L-BFGS fit, which has no optimiser state.
    let optimizer: Optimizer?
    var progress = FineTuneProgress()
    /// Seconds the run has trained, over all its resumed parts.
    var clock: () -> Double = { 0 }

    init(config: FineTuneConfig, context: RunContext, splits: FineTuneSplits, classifier: Classifier,
         optimizer: Optimizer?) throws {
        self.config = config
        self.context = context
        self.splits = splits
        self.classifier = classifier
        self.optimizer = optimizer
        if config.scheduler == .plateau {
            progress.plateau = try ReduceLROnPlateau(lr: Double(config.lr), factor: config.factor, patience: config.patience)
        }
    }

    var bestURL: URL { context.folder.url.appendingPathComponent("checkpoints/best.safetensors") }
    var configJSON: String { String(decoding: (try? JSONEncoder().encode(config)) ?? Data(), as: UTF8.self) }

    /// Images per step on each rank.
    var localBatch: Int { config.batchSize / context.comm.size }

    /// The evaluation view: resize and centre crop, the model's normalisation.
    var evaluationTransform: EvaluationTransform {
        EvaluationTransform(size: config.model.imageSize, normalization: config.model.normalization)
    }

    /// The frozen encoder's (or the whole classifier's) outputs over `dataset`, split across ranks.
    func inference(_ dataset: ImageDataset, logits: Bool, features: Bool) throws -> ClassifierOutputs {
        try ClassifierInference(dataset: dataset, transform: evaluationTransform, comm: context.comm,
                                batchSize: localBatch, workers: context.settings.workers)
            .run(classifier, logits: logits, features: features)
    }

    /// The classifier's result on an inference pass that computed logits.
    func result(_ outputs: ClassifierOutputs) -> ClassifierResult {
        guard let logits = outputs.logits else { preconditionFailure("FineTuneRun: a pass without logits") }
        return ClassifierResult(logits: logits, labels: outputs.labels, classNames: splits.classNames)
    }

    /// The learning rate of the next optimiser step.
    func learningRate(_ cosine: WarmupCosine) -> Float {
        switch config.scheduler {
        case .plateau: return Float(progress.plateau?.lr ?? Double(config.lr))
        case .cosine: return cosine.lr(step: progress.globalStep)
        case .constant: return config.lr
        }
    }

    /// A step's totals over all ranks: its loss times its images, its correct images, its images.
    func recordStep(lossSum: Double, hits: Double, count: Double) {
        progress.globalStep += 1
        progress.step += 1
        progress.lossSum += lossSum
        progress.hits += hits
        progress.count += count
    }

    /// Ends an epoch: scheduler, best checkpoint, metrics line, last checkpoint.
    func finishEpoch(validation: ClassifierResult, lr: Float?) throws {
        let epoch = progress.epoch + 1
        let trainLoss = progress.count > 0 ? progress.lossSum / progress.count : .nan
        let trainAccuracy = progress.count > 0 ? progress.hits / progress.count : .nan
        _ = progress.plateau?.step(validation.loss)
        let improved = progress.isImprovement(accuracy: validation.accuracy, loss: validation.loss)
        if improved {
            progress.bestEpoch = epoch
            progress.bestValAccuracy = validation.accuracy
            progress.bestValLoss = validation.loss
        }
        var record: [String: Any] = ["epoch": epoch, "train_loss": trainLoss, "train_accuracy": trainAccuracy,
                                     "val_loss": validation.loss, "val_accuracy": validation.accuracy,
                                     "val_top5_accuracy": validation.top5Accuracy, "wall_seconds": clock()]
        // Through the shortest decimal text, so 1e-3 is logged as 0.001 and not as its float's binary value.
        if let lr { record["lr"] = Double("\(lr)") ?? Double(lr) }
        context.log(String(format: "epoch %d/%d: train loss %.4f accuracy %.4f, validation loss %.4f accuracy %.4f%@",
                           epoch, config.epochs, trainLoss, trainAccuracy, validation.loss, validation.accuracy,
                           improved ? " (best so far)" : ""))
        progress.epoch = epoch
        progress.step = 0
        progress.lossSum = 0
        progress.hits = 0
        progress.count = 0
        progress.seconds = clock()
        try context.onRoot {
            try self.context.metrics?.write(record)
            if improved { try self.writeBest() }
            try self.writeLast()
        }
    }

    /// `checkpoints/last.safetensors` with the progress so far (rank 0; every rank waits for it).
    func checkpoint() throws {
        progress.seconds = clock()
        try context.onRoot { try self.writeLast() }
    }

    private func writeBest() throws {
        var extra = ["simclr.epoch": String(progress.bestEpoch), "simclr.config": configJSON]
        if let fraction = splits.heldOutTestFraction {
            extra["simclr.test_holdout"] = "{\"fraction\": \(fraction), \"seed\": \(config.seed)}"
        }
        try classifier.write(to: bestURL, extraMetadata: extra)
    }

    private func writeLast() throws {
        try ClassifierCheckpoint.write(to: context.folder.lastCheckpoint, classifier: classifier, optimizer: optimizer,
                                       progress: progress, configJSON: configJSON)
    }

    /// Loads the best epoch's weights from rank 0's `best.safetensors` onto every rank.
    func loadBest() throws {
        try context.onRoot { try self.classifier.load(try SafeTensors(contentsOf: self.bestURL)) }
        broadcastWeights()
    }

    /// Rank 0's weights on every rank.
    func broadcastWeights() {
        for store in classifier.stores { context.broadcast(store) }
    }

    /// `--resume`: rank 0 reads the last checkpoint; every rank continues from its model, optimiser
    /// state and progress.
    func restore() throws {
        let folder = context.folder
        progress = try context.restore(stores: classifier.stores, optimizer: optimizer) {
            let saved = try ClassifierCheckpoint.read(from: folder.lastCheckpoint, classifier: classifier,
                                                      optimizer: optimizer)
            try folder.checkResumable(savedJSON: saved.configJSON, as: FineTuneConfig.self,
                                      mayChange: "only --epochs may change, and not with --scheduler cosine",
                                      differences: config.trajectoryDifferences)
            // The settings a resume may change (epochs) are the run's from now on.
            try AtomicFile.write(try JSONValue.pretty(config), to: folder.url.appendingPathComponent("config.json"))
            return saved.progress
        }
        if progress.epoch >= config.epochs && progress.step == 0 {
            context.log("the run already trained \(progress.epoch) epochs; testing its best checkpoint again")
        } else {
            context.log("resuming at epoch \(progress.epoch + 1), step \(progress.step + 1)")
        }
    }
}
