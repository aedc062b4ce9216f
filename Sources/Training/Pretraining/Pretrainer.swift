import Distributed
import Formats
import Foundation
import Images
import NN
import Optim
import Probes
import Tensors

/// What a finished (or stopped) pretraining run reports.
public struct PretrainSummary {
    public var steps: Int
    public var losses: [Float]
    public var lastKNNAccuracy: Double?
    public var skippedImages: Int
    public var encoderPath: String?
}

/// SimCLR pretraining on P ranks (P = 1 without MPI). One step, on every rank:
///
/// ```
/// local batch [2b, H, W, C] ─▶ f, g ─▶ z [2b, D] ─▶ all-gather [P·2b, D] ─▶ NT-Xent over 2B views
/// ─▶ own rows of dZ ─▶ backward g, f ─▶ all-reduce (sum) of the gradient arena ─▶ optimiser step
/// ```
///
/// Every rank computes the whole global loss from the gathered projections, so its rows of dZ are
/// exactly dL/dz for its own views and the summed parameter gradients are those of one process with
/// the whole batch. With `microBatch` the projections are first computed chunk by chunk without
/// keeping activations, and each chunk is recomputed for its backward pass (gradient caching); each
/// chunk's BatchNorm then uses that chunk's statistics, so P ranks still equal one process.
public final class Pretrainer {
    public let config: PretrainConfig
    let resume: Bool
    let context: RunContext

    /// - Parameter settings: threads, loader workers and the all-reduce's buckets of each rank.
    public init(config: PretrainConfig, communicator: Communicator, resume: Bool, settings: RunSettings,
                stop: StopSignal? = nil, log: @escaping (String) -> Void = { writeError($0 + "\n") }) {
        self.config = config
        self.resume = resume
        context = RunContext(out: config.out, communicator: communicator, settings: settings, stop: stop, log: log)
    }

    /// Runs the job to its end (or to SIGINT/SIGTERM, after a checkpoint).
    public func run() throws -> PretrainSummary {
        try context.cleaningUpAfterFailure(train)
    }

    private func train() throws -> PretrainSummary {
        let comm = context.comm, log = context.log, folder = context.folder
        try config.validate(ranks: comm.size)
        try config.checkMemory(ranks: comm.size)
        log("memory: about \(config.memoryEstimate(ranks: comm.size).description) per rank at the step's peak (estimated)")
        let skipLog = SkipLog(printLimit: 5, printer: log)
        let dataset = try openDataset(path: config.data, format: config.format, split: .train, skipLog: skipLog)
        // The monitor's data is opened before any work, so a bad --knn-data never costs a run.
        let monitorData = config.knnEvery > 0 ? try openMonitorData() : nil
        let localBatch = config.batchSize / comm.size
        let loader = DataLoader(dataset: dataset, transform: config.augmentation, batchSize: localBatch, views: 2,
                                rank: comm.rank, worldSize: comm.size, seed: config.seed, shuffle: true, dropLast: true,
                                workers: context.settings.workers)
        let stepsPerEpoch = loader.batchesPerEpoch
        guard stepsPerEpoch > 0 else {
            throw TrainingError.invalidOption(
                "the dataset has \(dataset.count) images, fewer than one batch of \(config.batchSize)")
        }
        let totalSteps = config.epochs * stepsPerEpoch
        let loop = StepLoop(context: context, stepsPerEpoch: stepsPerEpoch, epochs: config.epochs,
                            lastStep: min(config.steps ?? totalSteps, totalSteps))

        let net = SimCLRNetwork(model: config.model, projectionHidden: config.projectionHidden,
                                projectionDimension: config.projectionDimension,
                                projectionLayers: config.projectionLayers,
                                projectionBatchNorm: config.projectionBatchNorm, kernels: .default,
                                seed: config.seed)
        let store = net.store
        let optimizer = try makeOptimizer(store)
        let warmup = min(Int((config.warmupEpochs * Double(stepsPerEpoch)).rounded()), totalSteps - 1)
        let schedule = try WarmupCosine(baseLR: config.lr, warmupSteps: max(warmup, 0), totalSteps: totalSteps)

        try context.prepare(config: config, resume: resume)
        var startStep = 0
        if resume {
            startStep = try context.restore(stores: [store], optimizer: optimizer) {
                let saved = try TrainingCheckpoint.read(from: folder.lastCheckpoint, store: store, optimizer: optimizer)
                try folder.checkResumable(savedJSON: saved.configJSON, as: PretrainConfig.self,
                                          mayChange: "only --steps and the monitoring options may change",
                                          differences: config.trajectoryDifferences)
                return saved.step
            }
        } else {
            context.broadcast(store)
        }
        try context.openMetrics { line in ((line["step"] as? NSNumber)?.intValue ?? Int.max) <= startStep }
        if startStep >= loop.totalSteps {
            log("the run already made \(startStep) steps; nothing to do (raise --steps or --epochs to continue)")
        } else if resume {
            log("resuming at step \(startStep) of \(loop.totalSteps)")
        }

        let step = SimCLRStep(net: net, comm: comm, temperature: config.temperature, localBatch: localBatch,
                              microBatch: config.microBatch, bucketFloats: context.settings.bucketFloats,
                              syncBatchNorm: config.bn == .sync && config.microBatch == nil)
        log("pretraining \(config.model.arch) (width \(config.model.width), \(config.model.stem) stem) on \(dataset.count) images"
            + " of \(dataset.name): \(stepsPerEpoch) steps per epoch, \(comm.size) rank(s) x \(context.settings.threads) thread(s)")

        var losses: [Float] = []
        var knn: Double?
        var current = startStep
        let every = config.checkpointEvery
        let isPeriodic = { (step: Int) in every > 0 && step % every == 0 }
        let checkpoint = { (keepCopy: Bool) in
            try self.context.onRoot {
                try self.saveCheckpoint(store: store, optimizer: optimizer, step: current,
                                        epoch: max(current - 1, 0) / stepsPerEpoch, keepCopy: keepCopy)
            }
        }
        try loop.run(
            from: StepLoop.Position(epoch: startStep / stepsPerEpoch, step: startStep % stepsPerEpoch),
            beginEpoch: { epoch, firstStep in loader.start(epoch: epoch, firstStep: firstStep) },
            step: { position in
                let started = Date()
                guard let batch = try loader.next() else {
                    preconditionFailure("Pretrainer: the loader ended epoch \(position.epoch) before its \(stepsPerEpoch) steps")
                }
                let lr = schedule.lr(step: current)
                let out = step.run(batch.images)
                guard out.loss.isFinite else { throw TrainingError.nonFiniteLoss(step: current + 1, value: out.loss) }
                optimizer.step(lr: lr)
                current += 1
                losses.append(out.loss)
                let seconds = Date().timeIntervalSince(started)
                let imagesPerSecond = Double(config.batchSize) / seconds
                try context.metrics?.write([
                    "step": current, "epoch": position.epoch, "loss": Double(out.loss), "lr": Double(lr),
                    "accuracy": Double(out.accuracy), "images_per_second": imagesPerSecond,
                    "communication_seconds": out.communicationSeconds, "step_seconds": seconds])
                if isPeriodic(current) || current == loop.totalSteps {
                    try context.whilePaused { try checkpoint(isPeriodic(current)) }
                }
                return [("loss", String(format: "%.4f", out.loss)), ("lr", String(format: "%.3g", lr)),
                        ("img/s", String(format: "%.1f", imagesPerSecond))]
            },
            endEpoch: { epoch in
                if let monitorData, (epoch + 1) % config.knnEvery == 0 {
                    try context.onRoot {
                        // A monitor that fails is a warning: the run goes on and keeps its checkpoints.
                        do {
                            let top1 = try knnMonitor(net.encoder, monitorData)
                            try context.metrics?.write(["step": current, "epoch": epoch + 1, "knn_top1": top1])
                            log("k-NN top-1 \(String(format: "%.4f", top1)) after epoch \(epoch + 1)")
                            knn = top1
                        } catch {
                            log("warning: the k-NN monitor failed after epoch \(epoch + 1): \(error)")
                        }
                    }
                    knn = try context.shared(knn)
                }
                // Unless the step itself just wrote one.
                if !isPeriodic(current) && current != loop.totalSteps { try checkpoint(false) }
            },
            checkpoint: { try checkpoint(false) })

        var encoderPath: String?
        if context.isRoot {
            encoderPath = try writeEncoder(store: store, steps: current)
            log("encoder written to \(encoderPath!)")
            context.writeSummaryPage()
        }
        skipLog.finish()
        return PretrainSummary(steps: current, losses: losses, lastKNNAccuracy: knn,
                               skippedImages: skipLog.count, encoderPath: encoderPath)
    }

    func makeOptimizer(_ store: ParameterStore) throws -> Optimizer {
        switch config.optimizer {
        case .lars: return try LARS(store: store, momentum: 0.9, weightDecay: config.weightDecay)
        case .adam: return try Adam(store: store, weightDecay: config.weightDecay)
        case .adamw: return try AdamW(store: store, weightDecay: config.weightDecay)
        case .sgd: return try SGD(store: store, momentum: 0.9, nesterov: false, weightDecay: config.weightDecay)
        }
    }

    func saveCheckpoint(store: ParameterStore, optimizer: Optimizer, step: Int, epoch: Int, keepCopy: Bool) throws {
        let folder = context.folder
        let json = String(decoding: try JSONEncoder().encode(config), as: UTF8.self)
        try TrainingCheckpoint.write(to: folder.lastCheckpoint, store: store, optimizer: optimizer, step: step, epoch: epoch,
                                     configJSON: json)
        if keepCopy {
            let copy = folder.url.appendingPathComponent(String(format: "checkpoints/step-%07d.safetensors", step))
            try? FileManager.default.removeItem(at: copy)
            try FileManager.default.copyItem(at: folder.lastCheckpoint, to: copy)
        }
    }

    /// `encoder.safetensors`: the encoder alone under torchvision's names, with what a later command
    /// needs to rebuild its input pipeline in the metadata.
    func writeEncoder(store: ParameterStore, steps: Int) throws -> String {
        let modelJSON = String(decoding: try JSONEncoder().encode(config.model), as: UTF8.self)
        let configJSON = String(decoding: try JSONEncoder().encode(config), as: UTF8.self)
        var file = SafeTensors(metadata: ["format": "pt", "simclr.kind": "encoder", "simclr.model": modelJSON,
                                          "simclr.config": configJSON, "simclr.steps": String(steps)])
        StateDict.export(store, into: &file, include: SimCLRNetwork.isEncoderTensor)
        let url = context.folder.url.appendingPathComponent("encoder.safetensors")
        try file.write(to: url)
        return url.path
    }

    /// The k-NN monitor's labelled data: the train split as memory, the test split as queries.
    func openMonitorData() throws -> (memory: ImageDataset, queries: ImageDataset) {
        let path = config.knnData ?? config.data
        let what = config.knnData.map { "--knn-data \($0)" } ?? "the k-NN monitor's data (--data)"
        do {
            let memory = try openDataset(path: path, format: config.format, split: .train)
            let queries = try openDataset(path: path, format: config.format, split: .test)
            guard !memory.classNames.isEmpty, queries.count > 0 else {
                throw TrainingError.invalidOption("it needs labelled images in a train and a test split")
            }
            return (memory, queries)
        } catch {
            throw TrainingError.invalidOption("\(what) cannot serve the k-NN monitor: \(error)")
        }
    }

    /// Weighted k-NN top-1 accuracy of the encoder's features: train split as memory, test split as queries.
    func knnMonitor(_ encoder: ResNet, _ data: (memory: ImageDataset, queries: ImageDataset)) throws -> Double {
        let transform = EvaluationTransform(size: config.model.imageSize, normalization: config.model.normalization)
        let (bank, bankLabels) = try FeatureExtractor.features(of: data.memory, encoder: encoder, transform: transform)
        let (q, qLabels) = try FeatureExtractor.features(of: data.queries, encoder: encoder, transform: transform)
        let classifier = try KNNClassifier(k: min(20, data.memory.count))
        try classifier.fit(features: bank, labels: bankLabels, classes: max(data.memory.classNames.count, 1))
        return try classifier.evaluate(queries: q, labels: qLabels).top1
    }
}
