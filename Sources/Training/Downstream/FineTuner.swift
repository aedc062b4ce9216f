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
    let comm: Communicator
    let resume: Bool
    let threads: Int
    let workers: Int
    let bucketFloats: Int?
    let log: (String) -> Void
    let folder: RunFolder

    /// - Parameter bucketFloats: as `Pretrainer`'s: the overlapped all-reduce's bucket.
    public init(config: FineTuneConfig, communicator: Communicator, resume: Bool, threads: Int, workers: Int,
                bucketFloats: Int? = BucketedAllReduce.defaultBucketFloats,
                log: @escaping (String) -> Void = { writeError($0 + "\n") }) {
        self.config = config
        comm = communicator
        self.resume = resume
        self.threads = threads
        self.workers = workers
        self.bucketFloats = bucketFloats
        self.log = communicator.rank == 0 ? log : { _ in }
        folder = RunFolder(config.out)
    }

    var bestURL: URL { folder.url.appendingPathComponent("checkpoints/best.safetensors") }
    var configJSON: String { String(decoding: (try? JSONEncoder().encode(config)) ?? Data(), as: UTF8.self) }

    // State of one run.
    private var progress = FineTuneProgress()
    private var metrics: JSONLinesWriter?
    private var classifier: Classifier!
    private var splits: FineTuneSplits!
    private var optimizer: Optimizer?
    private var started = Date()
    private var secondsBefore = 0.0
    private var watchdog: Watchdog?

    /// Runs the job to its end (or to SIGINT/SIGTERM, after a checkpoint).
    public func run(stop: StopSignal? = nil) throws -> FineTuneSummary {
        started = Date()
        try config.validate(ranks: comm.size)
        Threads.configure(threads)
        let skipLog = SkipLog(printLimit: 5, printer: { [log] in log("warning: \($0)") })
        splits = try FineTuneSplits(config: config, skipLog: skipLog)
        let model = config.model
        log("\(config.mode == "linear" ? "linear evaluation" : "fine-tuning") of \(model.arch) (width \(model.width), "
            + "\(model.stem) stem, \(config.weights.map { "weights \($0)" } ?? "random initialisation")) with a "
            + "\(config.head) head on \(splits.classNames.count) classes")
        log("input \(model.imageSize)x\(model.imageSize)x\(model.inputChannels), normalisation mean \(model.normalization.mean) "
            + "std \(model.normalization.std) (from \(config.modelSource))")
        log("data: \(splits.train.count) training, \(splits.validation.count) validation images of \(splits.train.name); "
            + "test: \(splits.test.count) images, \(splits.testSource)")

        var weights: PretrainedEncoder?
        if let path = config.weights { weights = try PretrainedEncoder.open(path, fallback: config.model) }
        classifier = try Classifier(spec: model, headKind: config.headKind, classNames: splits.classNames,
                                    weights: weights, separateHead: config.mode == "linear", seed: config.seed)
        if let report = classifier.loadReport {
            var notes: [String] = []
            if !report.strippedPrefixes.isEmpty { notes.append("prefixes stripped: \(report.strippedPrefixes.joined(separator: " "))") }
            if !report.unused.isEmpty { notes.append("unused tensors: \(StateDict.summarize(report.unused))") }
            log("encoder weights loaded" + (notes.isEmpty ? "" : " (\(notes.joined(separator: "; ")))"))
        }
        let trainEncoder = config.mode == "full"
        let trainedStore = trainEncoder ? classifier.encoderStore : classifier.headStore
        optimizer = try makeOptimizer(trainedStore)

        try comm.agree { try self.folder.prepare(config: self.config, resume: self.resume) }
        progress = FineTuneProgress()
        if config.scheduler == "plateau" {
            progress.plateau = try ReduceLROnPlateau(lr: Double(config.lr), factor: config.factor, patience: config.patience)
        }
        if resume { try restore() }
        classifier.broadcast(comm)
        secondsBefore = progress.seconds
        metrics = comm.rank == 0 ? try JSONLinesWriter(url: folder.url.appendingPathComponent("metrics.jsonl")) : nil

        // test: the best checkpoint's result; outputs: the test images' features (embeddings) and labels.
        let (test, outputs) = try config.cacheFeatures ? runOnFeatures(stop: stop) : runOnImages(stop: stop)
        let seconds = secondsBefore + Date().timeIntervalSince(started)
        log(String(format: "test (best epoch %d): accuracy %.4f, top-5 %.4f, mean per-class accuracy %.4f, loss %.4f",
                   progress.bestEpoch, test.accuracy, test.top5Accuracy, test.meanPerClassAccuracy, test.loss))
        let summary = FineTuneSummary(epochs: progress.epoch, bestEpoch: progress.bestEpoch,
                                      bestValAccuracy: progress.bestValAccuracy, test: test,
                                      trainImages: splits.train.count, validationImages: splits.validation.count,
                                      seconds: seconds, skippedImages: skipLog.count)
        if comm.rank == 0 {
            try FineTuneResults(config: config, summary: summary, progress: progress, splits: splits,
                                embeddings: outputs.features!, labels: outputs.labels).write(to: folder.url)
            log("report: \(folder.url.appendingPathComponent("report.txt").path)")
            do {
                log("summary page: \(try RunReport.write(runDirectory: folder.url).path)")
            } catch {
                log("warning: could not write the summary page: \(error)")
            }
        }
        skipLog.finish()
        comm.barrier()
        return summary
    }

    private var evaluation: EvaluationTransform {
        EvaluationTransform(size: config.model.imageSize, normalization: config.model.normalization)
    }

    private var localBatch: Int { config.batchSize / comm.size }

    // MARK: Training on images

    /// Trains on (augmented) images, then tests the best checkpoint: its result and the test
    /// images' features.
    private func runOnImages(stop: StopSignal?) throws -> (ClassifierResult, ClassifierOutputs) {
        let transform: ViewTransform = config.augmentation ?? evaluation
        let validation = ClassifierInference(dataset: splits.validation, transform: evaluation, comm: comm,
                                             batchSize: localBatch, workers: workers)
        try trainOnImages(transform: transform, validation: validation, trainEncoder: config.mode == "full", stop: stop)
        try loadBest()
        let outputs = try ClassifierInference(dataset: splits.test, transform: evaluation, comm: comm,
                                              batchSize: localBatch, workers: workers)
            .run(classifier, logits: true, features: true)
        return (ClassifierResult(logits: outputs.logits!, labels: outputs.labels, classNames: splits.classNames), outputs)
    }

    private func trainOnImages(transform: ViewTransform, validation: ClassifierInference, trainEncoder: Bool,
                               stop: StopSignal?) throws {
        let loader = DataLoader(dataset: splits.train, transform: transform, batchSize: config.batchSize / comm.size,
                                views: 1, rank: comm.rank, worldSize: comm.size, seed: config.seed, shuffle: true,
                                dropLast: false, workers: workers)
        let stepsPerEpoch = loader.batchesPerEpoch
        guard stepsPerEpoch > 0 else {
            throw TrainingError.invalidOption("\(splits.train.count) training images do not divide among \(comm.size) ranks")
        }
        let step = FineTuneStep(classifier: classifier, comm: comm, trainEncoder: trainEncoder,
                                bucketFloats: bucketFloats)
        let schedule = try WarmupCosine(baseLR: config.lr, warmupSteps: 0, totalSteps: config.epochs * stepsPerEpoch)
        let display = Progress(totalSteps: config.epochs * stepsPerEpoch, enabled: comm.rank == 0)
        let watchdog = Watchdog(communicator: comm, deadline: Watchdog.deadline(stepSeconds: []))
        self.watchdog = watchdog
        if comm.size > 1 { watchdog.start() }
        defer { watchdog.stop(); self.watchdog = nil }
        var stepTimes: [Double] = []

        while progress.epoch < config.epochs {
            let epoch = progress.epoch
            loader.start(epoch: epoch, firstStep: progress.step)
            var lr = learningRate(schedule)
            while let batch = try loader.next() {
                let stepStarted = Date()
                let n = batch.count
                let x = n == batch.images.shape[0] ? batch.images
                    : Tensor(viewing: batch.images.data, shape: [n] + Array(batch.images.shape.dropFirst()))
                let local = step.run(x, labels: batch.labels)
                let stopping = stop?.signalName != nil
                let global = comm.allReduceSum([local.lossSum, Double(local.hits), Double(n), stopping ? 1 : 0])
                guard global[0].isFinite else {
                    throw TrainingError.nonFiniteLoss(step: progress.globalStep + 1, value: Float(global[0] / global[2]))
                }
                lr = learningRate(schedule)
                optimizer!.step(lr: lr)
                progress.globalStep += 1
                progress.step += 1
                progress.lossSum += global[0]
                progress.hits += global[1]
                progress.count += global[2]
                stepTimes.append(Date().timeIntervalSince(stepStarted))
                watchdog.heartbeat()
                if stepTimes.count == 5 || stepTimes.count % 50 == 0 {
                    watchdog.deadline = Watchdog.deadline(stepSeconds: Array(stepTimes.suffix(50)))
                }
                display.update(step: epoch * stepsPerEpoch + progress.step, epoch: epoch + 1, fields: [
                    ("loss", String(format: "%.4f", global[0] / global[2])), ("lr", String(format: "%.3g", lr)),
                ])
                if global[3] > 0 { try interrupt(stop) }
            }
            let outputs = try watchdog.whilePaused { try validation.run(classifier, logits: true, features: false) }
            let result = ClassifierResult(logits: outputs.logits!, labels: outputs.labels, classNames: splits.classNames)
            try watchdog.whilePaused { try finishEpoch(validation: result, lr: lr) }
        }
    }

    /// The learning rate of the next optimiser step.
    private func learningRate(_ cosine: WarmupCosine) -> Float {
        switch config.scheduler {
        case "plateau": return Float(progress.plateau!.lr)
        case "cosine": return cosine.lr(step: progress.globalStep)
        default: return config.lr
        }
    }

    // MARK: Training on cached features

    /// Computes the frozen encoder's features of the training and validation images once, trains
    /// the head on them (or fits the logistic regression), then tests the best head on the test
    /// images' features, computed only now.
    private func runOnFeatures(stop: StopSignal?) throws -> (ClassifierResult, ClassifierOutputs) {
        let features = { (d: ImageDataset) in
            try ClassifierInference(dataset: d, transform: self.evaluation, comm: self.comm, batchSize: self.localBatch,
                                    workers: self.workers).run(self.classifier, logits: false, features: true)
        }
        log("computing features once (frozen encoder, evaluation mode)")
        let train = try features(splits.train), validation = try features(splits.validation)
        if config.optimizer == "lbfgs" {
            try fitLogisticRegression(train, validation)
        } else {
            try trainOnFeatures(train, validation, stop: stop)
        }
        try loadBest()
        let test = try features(splits.test)
        let logits = classifier.head.forward(test.features!, mode: .inference)
        return (ClassifierResult(logits: logits, labels: test.labels, classNames: splits.classNames), test)
    }

    private func trainOnFeatures(_ train: ClassifierOutputs, _ validation: ClassifierOutputs, stop: StopSignal?) throws {
        let x = train.features!, labels = train.labels
        let n = x.shape[0], f = x.shape[1], b = config.batchSize
        let stepsPerEpoch = (n + b - 1) / b
        let schedule = try WarmupCosine(baseLR: config.lr, warmupSteps: 0, totalSteps: config.epochs * stepsPerEpoch)
        let display = Progress(totalSteps: config.epochs * stepsPerEpoch, enabled: comm.rank == 0)
        let loss = try CrossEntropyLoss()
        let head = classifier.head, store = classifier.headStore
        var input = Workspace(), dLogits = Workspace()
        while progress.epoch < config.epochs {
            let epoch = progress.epoch
            let order = Sharding.epochOrder(count: n, seed: config.seed, epoch: epoch, shuffle: true)
            var lr = learningRate(schedule)
            while progress.step < stepsPerEpoch {
                let rows = order[(progress.step * b) ..< min((progress.step + 1) * b, n)]
                let xb = input.get([rows.count, f])   // [m, F]
                var yb: [Int] = []
                for (i, r) in rows.enumerated() {
                    (xb.data + i * f).update(from: x.data + r * f, count: f)
                    yb.append(labels[r])
                }
                store.zeroGrad()
                let logits = head.forward(xb, mode: .training)   // [m, K]
                let d = dLogits.get(logits.shape)
                let mean = Double(loss.lossAndGradient(logits: logits, labels: yb, dLogits: d))
                guard mean.isFinite else { throw TrainingError.nonFiniteLoss(step: progress.globalStep + 1, value: Float(mean)) }
                let hits = CrossEntropyLoss.correctCount(logits: logits, labels: yb)
                _ = head.backward(d)
                lr = learningRate(schedule)
                optimizer!.step(lr: lr)
                progress.globalStep += 1
                progress.step += 1
                progress.lossSum += mean * Double(rows.count)
                progress.hits += Double(hits)
                progress.count += Double(rows.count)
                display.update(step: epoch * stepsPerEpoch + progress.step, epoch: epoch + 1, fields: [
                    ("loss", String(format: "%.4f", mean)), ("lr", String(format: "%.3g", lr)),
                ])
                if comm.allReduceMax(stop?.signalName == nil ? 0 : 1) > 0 { try interrupt(stop) }
            }
            let logits = head.forward(validation.features!, mode: .inference)
            try finishEpoch(validation: ClassifierResult(logits: logits, labels: validation.labels, classNames: splits.classNames),
                            lr: lr)
        }
    }

    /// `--optimizer lbfgs`: multinomial logistic regression on standardised features, L2 strength
    /// λ = `weightDecay` on the mean loss, the standardisation folded into `fc.weight` / `fc.bias`.
    private func fitLogisticRegression(_ train: ClassifierOutputs, _ validation: ClassifierOutputs) throws {
        guard progress.epoch == 0 else { return }
        // λ as written (1e-4, not the float nearest to it).
        let lambda = Double("\(config.weightDecay)") ?? Double(config.weightDecay)
        let probe = try LogisticRegression(regularization: .weightDecay(lambda), standardize: true)
        log("fitting a logistic regression (L-BFGS, λ \(config.weightDecay), standardised features)")
        let fit = try probe.fit(features: train.features!, labels: train.labels, classes: splits.classNames.count)
        guard let weight = classifier.headStore.parameter(named: "fc.weight"),
              let bias = classifier.headStore.parameter(named: "fc.bias") else {
            preconditionFailure("FineTuner: a linear head has fc.weight and fc.bias")
        }
        weight.value.update(from: probe.weight.data, count: weight.count)
        bias.value.update(from: probe.bias.data, count: bias.count)
        log("L-BFGS: \(fit.iterations) iterations, \(fit.converged ? "converged" : "not converged")")
        let head = classifier.head
        let trainResult = ClassifierResult(logits: head.forward(train.features!, mode: .inference), labels: train.labels,
                                           classNames: splits.classNames)
        progress.lossSum = trainResult.loss * Double(train.labels.count)
        progress.hits = trainResult.accuracy * Double(train.labels.count)
        progress.count = Double(train.labels.count)
        let validationResult = ClassifierResult(logits: head.forward(validation.features!, mode: .inference),
                                                labels: validation.labels, classNames: splits.classNames)
        try finishEpoch(validation: validationResult, lr: nil)
    }

    // MARK: Epochs, checkpoints, resume

    /// Ends an epoch: scheduler, best checkpoint, metrics line, last checkpoint.
    private func finishEpoch(validation: ClassifierResult, lr: Float?) throws {
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
                                     "val_top5_accuracy": validation.top5Accuracy,
                                     "wall_seconds": secondsBefore + Date().timeIntervalSince(started)]
        // Through the shortest decimal text, so 1e-3 is logged as 0.001 and not as its float's binary value.
        if let lr { record["lr"] = Double("\(lr)") ?? Double(lr) }
        log(String(format: "epoch %d/%d: train loss %.4f accuracy %.4f, validation loss %.4f accuracy %.4f%@",
                   epoch, config.epochs, trainLoss, trainAccuracy, validation.loss, validation.accuracy,
                   improved ? " (best so far)" : ""))
        progress.epoch = epoch
        progress.step = 0
        progress.lossSum = 0
        progress.hits = 0
        progress.count = 0
        progress.seconds = secondsBefore + Date().timeIntervalSince(started)
        try comm.agree {
            try self.metrics?.write(record)
            if improved { try self.writeBest() }
            try self.writeLast()
        }
    }

    private func writeBest() throws {
        var extra = ["simclr.epoch": String(progress.bestEpoch), "simclr.config": configJSON]
        if let fraction = splits.heldOutTestFraction {
            extra["simclr.test_holdout"] = "{\"fraction\": \(fraction), \"seed\": \(config.seed)}"
        }
        try classifier.write(to: bestURL, extraMetadata: extra)
    }

    private func writeLast() throws {
        try ClassifierCheckpoint.write(to: folder.lastCheckpoint, classifier: classifier, optimizer: optimizer, progress: progress,
                                       configJSON: configJSON)
    }

    /// Writes the checkpoint of the step just taken (rank 0; every rank waits for it) and stops.
    private func interrupt(_ stop: StopSignal?) throws -> Never {
        progress.seconds = secondsBefore + Date().timeIntervalSince(started)
        let save = { try self.comm.agree { try self.writeLast() } }
        try (watchdog?.whilePaused(save) ?? save())
        throw TrainingError.interrupted(signal: stop?.signalName ?? "a signal on another rank", checkpoint: folder.lastCheckpoint.path)
    }

    /// Loads the best epoch's weights from rank 0's `best.safetensors` onto every rank.
    private func loadBest() throws {
        try comm.agree {
            let file = try SafeTensors(contentsOf: self.bestURL)
            try self.classifier.load(file)
        }
        classifier.broadcast(comm)
    }

    /// `--resume`: rank 0 reads the last checkpoint; every rank continues from its model, optimiser
    /// state and progress.
    private func restore() throws {
        var bytes: [UInt8] = []
        try comm.agree {
            let saved = try ClassifierCheckpoint.read(from: self.folder.lastCheckpoint, classifier: self.classifier, optimizer: self.optimizer)
            try self.folder.checkResumable(savedJSON: saved.configJSON, as: FineTuneConfig.self,
                                           mayChange: "only --epochs may change, and not with --scheduler cosine",
                                           differences: self.config.trajectoryDifferences)
            // The settings a resume may change (epochs) are the run's from now on.
            try AtomicFile.write(try JSONValue.pretty(self.config), to: self.folder.url.appendingPathComponent("config.json"))
            bytes = Array(try JSONEncoder().encode(saved.progress))
        }
        comm.broadcastBytes(&bytes, root: 0)
        progress = try JSONDecoder().decode(FineTuneProgress.self, from: Data(bytes))
        if let optimizer {
            for (_, t) in optimizer.state { comm.broadcast(t.data, count: t.count, root: 0) }
            var steps = [Double(optimizer.stepCount)]
            steps = comm.allReduceSum(comm.rank == 0 ? steps : [0])
            optimizer.stepCount = Int(steps[0])
        }
        if progress.epoch >= config.epochs && progress.step == 0 {
            log("the run already trained \(progress.epoch) epochs; testing its best checkpoint again")
        } else {
            log("resuming at epoch \(progress.epoch + 1), step \(progress.step + 1)")
        }
    }

    private func makeOptimizer(_ store: ParameterStore) throws -> Optimizer? {
        switch config.optimizer {
        case "lbfgs": return nil
        case "sgd": return try SGD(store: store, momentum: 0.9, weightDecay: config.weightDecay, decayAll: false)
        default: return try Adam(store: store, weightDecay: config.weightDecay, decayAll: false)
        }
    }
}
