import Distributed
import Formats
import Foundation
import Images
import NN
import Optim
import Probes
import Tensors

/// What a finished fine-tuning run reports.
public struct FineTuneSummary {
    /// Epochs trained in all (1 for an L-BFGS fit).
    public var epochs: Int
    /// The epoch (from 1) whose weights were tested.
    public var bestEpoch: Int
    public var bestValAccuracy: Double
    /// The best checkpoint on the test part.
    public var test: ClassifierResult
    public var trainImages: Int
    public var validationImages: Int
    public var seconds: Double
    public var skippedImages: Int
}

/// Supervised fine-tuning (`full`: everything trains) or linear evaluation (`linear`: a head on a
/// frozen encoder) of a pretrained (or, in `full`, randomly initialised) encoder, on P ranks.
///
/// Made so that the usual ways of spoiling an evaluation cannot happen:
/// - a frozen encoder always runs in evaluation mode (running BatchNorm statistics, never updated)
///   and sits in a parameter store no optimiser sees; validation and test always run everything
///   in evaluation mode;
/// - the input size and normalisation are pretraining's (from the weights' metadata) unless
///   overridden explicitly;
/// - only the validation split (taken from the training data) drives ReduceLROnPlateau and picks
///   the best checkpoint; the test part is used once, at the end, with that checkpoint;
/// - a randomly initialised encoder is frozen only when asked for explicitly (`--init random`, a
///   baseline), never because weights failed to load: a tensor that does not load is an error.
///
/// Training on images is data-parallel like pretraining: each rank takes B/P images of a step,
/// gradients of the global mean loss are summed, BatchNorm is synchronised in full mode, and P
/// ranks give the run of one process. Linear mode without augmentation computes the features once
/// (split across ranks, gathered on all) and then trains the head on the cache on every rank alike,
/// with no further communication than a stop flag per step; rank 0 alone writes files.
public final class FineTuner {
    public let config: FineTuneConfig
    let resume: Bool
    let context: RunContext

    /// - Parameter settings: threads, loader workers and the all-reduce's buckets of each rank.
    public init(config: FineTuneConfig, communicator: Communicator, resume: Bool, settings: RunSettings,
                stop: StopSignal? = nil, log: @escaping (String) -> Void = { writeError($0 + "\n") }) {
        self.config = config
        self.resume = resume
        context = RunContext(out: config.out, communicator: communicator, settings: settings, stop: stop, log: log)
    }

    /// Runs the job to its end (or to SIGINT/SIGTERM, after a checkpoint).
    public func run() throws -> FineTuneSummary {
        try context.cleaningUpAfterFailure(train)
    }

    private func train() throws -> FineTuneSummary {
        let started = Date()
        let log = context.log
        try config.validate(ranks: context.comm.size)
        let skipLog = SkipLog(printLimit: 5, printer: log)
        let splits = try FineTuneSplits(config: config, skipLog: skipLog)
        let model = config.model
        log("\(config.mode == .linear ? "linear evaluation" : "fine-tuning") of \(model.arch) (width \(model.width), "
            + "\(model.stem) stem, \(config.weights.map { "weights \($0)" } ?? "random initialisation")) with a "
            + "\(config.head) head on \(splits.classNames.count) classes")
        log("input \(model.imageSize)x\(model.imageSize)x\(model.inputChannels), normalisation mean \(model.normalization.mean) "
            + "std \(model.normalization.std) (from \(config.modelSource))")
        log("data: \(splits.train.count) training, \(splits.validation.count) validation images of \(splits.train.name); "
            + "test: \(splits.test.count) images, \(splits.testSource)")

        try config.checkMemory(ranks: context.comm.size, images: splits.train.count)
        log("memory: about \(config.memoryEstimate(ranks: context.comm.size).description) per rank at the step's peak (estimated)")
        let weights = try config.weights.map { try PretrainedEncoder.open($0, fallback: config.model) }
        let classifier = try Classifier(spec: model, headKind: config.headKind, classNames: splits.classNames,
                                        weights: weights, separateHead: config.mode == .linear, seed: config.seed)
        if let report = classifier.loadReport {
            var notes: [String] = []
            if !report.strippedPrefixes.isEmpty { notes.append("prefixes stripped: \(report.strippedPrefixes.joined(separator: " "))") }
            if !report.unused.isEmpty { notes.append("unused tensors: \(StateDict.summarize(report.unused))") }
            log("encoder weights loaded" + (notes.isEmpty ? "" : " (\(notes.joined(separator: "; ")))"))
        }
        let run = try FineTuneRun(config: config, context: context, splits: splits, classifier: classifier,
                                  optimizer: makeOptimizer(config.mode == .full ? classifier.encoderStore : classifier.headStore))
        try context.prepare(config: config, resume: resume)
        if resume { try run.restore() } else { run.broadcastWeights() }
        let finishedEpochs = run.progress.epoch
        try context.openMetrics { line in ((line["epoch"] as? NSNumber)?.intValue ?? Int.max) <= finishedEpochs }
        let secondsBefore = run.progress.seconds
        run.clock = { secondsBefore + Date().timeIntervalSince(started) }

        let training: FineTuneTraining
        if config.optimizer == .lbfgs {
            training = LogisticRegressionFit()
        } else if config.cacheFeatures {
            training = CachedFeatureTraining()
        } else {
            training = ImageTraining()
        }
        // test: the best checkpoint's result; outputs: the test images' features (embeddings) and labels.
        let (test, outputs) = try training.run(run)
        let progress = run.progress
        log(String(format: "test (best epoch %d): accuracy %.4f, top-5 %.4f, mean per-class accuracy %.4f, loss %.4f",
                   progress.bestEpoch, test.accuracy, test.top5Accuracy, test.meanPerClassAccuracy, test.loss))
        let summary = FineTuneSummary(epochs: progress.epoch, bestEpoch: progress.bestEpoch,
                                      bestValAccuracy: progress.bestValAccuracy, test: test,
                                      trainImages: splits.train.count, validationImages: splits.validation.count,
                                      seconds: run.clock(), skippedImages: skipLog.count)
        if context.isRoot {
            guard let embeddings = outputs.features else {
                preconditionFailure("FineTuner: the test pass computed no features")
            }
            try FineTuneResults(config: config, summary: summary, progress: progress, splits: splits,
                                embeddings: embeddings, labels: outputs.labels).write(to: context.folder.url)
            log("report: \(context.folder.url.appendingPathComponent("report.txt").path)")
            context.writeSummaryPage()
        }
        skipLog.finish()
        context.comm.barrier()
        return summary
    }

    private func makeOptimizer(_ store: ParameterStore) throws -> Optimizer? {
        switch config.optimizer {
        case .lbfgs: return nil
        case .sgd: return try SGD(store: store, momentum: 0.9, weightDecay: config.weightDecay, decayAll: false)
        case .adam: return try Adam(store: store, weightDecay: config.weightDecay, decayAll: false)
        }
    }
}
