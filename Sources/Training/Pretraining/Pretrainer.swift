import Distributed
import Formats
import Foundation
import Images
import NN
import Optim
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
    let comm: Communicator
    let resume: Bool
    let threads: Int
    let workers: Int
    let bucketFloats: Int?
    let log: (String) -> Void
    let folder: RunFolder

    /// - Parameter bucketFloats: gradient floats per all-reduce started during the backward pass
    ///   (nil: one all-reduce after it); a setting of the machines, not of the run.
    public init(config: PretrainConfig, communicator: Communicator, resume: Bool, threads: Int, workers: Int,
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

    /// Runs the job to its end (or to SIGINT/SIGTERM, after a checkpoint).
    public func run(stop: StopSignal? = nil) throws -> PretrainSummary {
        try config.validate(ranks: comm.size)
        Threads.configure(threads)
        let rank = comm.rank, ranks = comm.size
        let skipLog = SkipLog(printLimit: 5, printer: { [log] in log("warning: \($0)") })
        let dataset = try openDataset(path: config.data, format: DatasetFormat(name: config.format) ?? .auto,
                                      split: .train, skipLog: skipLog)
        let localBatch = config.batchSize / ranks
        let stepsPerEpoch = (dataset.count - dataset.count % ranks) / config.batchSize
        guard stepsPerEpoch > 0 else {
            throw TrainingError.invalidOption(
                "the dataset has \(dataset.count) images, fewer than one batch of \(config.batchSize)")
        }
        let totalSteps = config.epochs * stepsPerEpoch
        let lastStep = min(config.steps ?? totalSteps, totalSteps)

        let net = SimCLRNetwork(model: config.model, projectionHidden: config.projectionHidden,
                                projectionDimension: config.projectionDimension,
                                projectionLayers: config.projectionLayers,
                                projectionBatchNorm: config.projectionBatchNorm, kernels: .default,
                                seed: config.seed)
        let store = net.store
        let optimizer = try makeOptimizer(store)
        let warmup = min(Int((config.warmupEpochs * Double(stepsPerEpoch)).rounded()), totalSteps - 1)
        let schedule = try WarmupCosine(baseLR: config.lr, warmupSteps: max(warmup, 0), totalSteps: totalSteps)

        // Rank 0 decides about the run folder and the starting point; the others follow it.
        var startStep = 0
        try comm.agree { try self.folder.prepare(config: self.config, resume: self.resume) }
        if resume {
            try comm.agree {
                let saved = try TrainingCheckpoint.read(from: self.folder.lastCheckpoint, store: store, optimizer: optimizer)
                try self.folder.checkResumable(savedJSON: saved.configJSON, as: PretrainConfig.self,
                                               mayChange: "only --steps and the monitoring options may change",
                                               differences: self.config.trajectoryDifferences)
                startStep = saved.step
            }
            var header = [Float(startStep)]
            comm.broadcast(&header, count: 1, root: 0)
            startStep = Int(header[0])
            for (_, t) in optimizer.state { comm.broadcast(t.data, count: t.count, root: 0) }
            var steps = [Float(optimizer.stepCount)]
            comm.broadcast(&steps, count: 1, root: 0)
            optimizer.stepCount = Int(steps[0])
        }
        comm.broadcast(store.values, count: store.count, root: 0)
        for b in store.buffers { comm.broadcast(b.tensor.data, count: b.tensor.count, root: 0) }
        if startStep >= lastStep {
            log("the run already made \(startStep) steps; nothing to do (raise --steps or --epochs to continue)")
        } else if resume {
            log("resuming at step \(startStep) of \(lastStep)")
        }

        let metrics = rank == 0 ? try JSONLinesWriter(url: folder.url.appendingPathComponent("metrics.jsonl")) : nil
        let loader = DataLoader(dataset: dataset, transform: config.augmentation, batchSize: localBatch, views: 2,
                                rank: rank, worldSize: ranks, seed: config.seed, shuffle: true, dropLast: true,
                                workers: workers)
        let step = SimCLRStep(net: net, comm: comm, temperature: config.temperature, localBatch: localBatch,
                              microBatch: config.microBatch, bucketFloats: bucketFloats,
                              syncBatchNorm: config.bn == "sync" && config.microBatch == nil)
        let watchdog = Watchdog(communicator: comm, deadline: Watchdog.deadline(stepSeconds: []))
        if ranks > 1 { watchdog.start() }
        defer { watchdog.stop() }
        let progress = Progress(totalSteps: lastStep, enabled: rank == 0)
        log("pretraining \(config.model.arch) (width \(config.model.width), \(config.model.stem) stem) on \(dataset.count) images"
            + " of \(dataset.name): \(stepsPerEpoch) steps per epoch, \(ranks) rank(s) x \(threads) thread(s)")

        var losses: [Float] = []
        var stepTimes: [Double] = []
        var knn: Double?
        var current = startStep
        var epoch = current / stepsPerEpoch
        loader.start(epoch: epoch, firstStep: current % stepsPerEpoch)
        while current < lastStep {
            let started = Date()
            guard let batch = try loader.next() else {
                epoch += 1
                loader.start(epoch: epoch)
                continue
            }
            let lr = schedule.lr(step: current)
            let out = step.run(batch.images)
            guard out.loss.isFinite else { throw TrainingError.nonFiniteLoss(step: current + 1, value: out.loss) }
            optimizer.step(lr: lr)
            current += 1
            losses.append(out.loss)
            let seconds = Date().timeIntervalSince(started)
            stepTimes.append(seconds)
            watchdog.heartbeat()
            if stepTimes.count == 5 || stepTimes.count % 50 == 0 {
                watchdog.deadline = Watchdog.deadline(stepSeconds: Array(stepTimes.suffix(50)))
            }
            let imagesPerSecond = Double(config.batchSize) / seconds
            try metrics?.write(["step": current, "epoch": epoch, "loss": Double(out.loss), "lr": Double(lr),
                                "accuracy": Double(out.accuracy), "images_per_second": imagesPerSecond,
                                "communication_seconds": out.communicationSeconds, "step_seconds": seconds])
            progress.update(step: current, epoch: epoch, fields: [
                ("loss", String(format: "%.4f", out.loss)), ("lr", String(format: "%.3g", lr)),
                ("img/s", String(format: "%.1f", imagesPerSecond)),
            ])

            let endOfEpoch = current % stepsPerEpoch == 0
            if config.knnEvery > 0, endOfEpoch, (current / stepsPerEpoch) % config.knnEvery == 0 {
                try watchdog.whilePaused {
                    if rank == 0 {
                        knn = try knnMonitor(net.encoder)
                        try metrics?.write(["step": current, "epoch": current / stepsPerEpoch, "knn_top1": knn!])
                        log("k-NN top-1 \(String(format: "%.4f", knn!)) after epoch \(current / stepsPerEpoch)")
                    }
                    comm.barrier()
                }
            }
            let stopping = comm.allReduceMax(stop?.signalName == nil ? 0 : 1) > 0
            let periodic = config.checkpointEvery > 0 && current % config.checkpointEvery == 0
            if stopping || current == lastStep || endOfEpoch || periodic {
                try watchdog.whilePaused {
                    try saveCheckpoint(store: store, optimizer: optimizer, step: current, epoch: epoch,
                                       keepCopy: periodic)
                    comm.barrier()
                }
            }
            if stopping {
                throw TrainingError.interrupted(signal: stop?.signalName ?? "a signal on another rank",
                                                checkpoint: folder.lastCheckpoint.path)
            }
        }
        var encoderPath: String?
        if rank == 0 {
            encoderPath = try writeEncoder(store: store, steps: current)
            log("encoder written to \(encoderPath!)")
            do {
                log("summary page: \(try RunReport.write(runDirectory: folder.url).path)")
            } catch {
                log("warning: could not write the summary page: \(error)")
            }
        }
        skipLog.finish()
        return PretrainSummary(steps: current, losses: losses, lastKNNAccuracy: knn,
                               skippedImages: skipLog.count + loader.unreadableCount, encoderPath: encoderPath)
    }

    func makeOptimizer(_ store: ParameterStore) throws -> Optimizer {
        switch config.optimizer {
        case "lars": return try LARS(store: store, momentum: 0.9, weightDecay: config.weightDecay)
        case "adam": return try Adam(store: store, weightDecay: config.weightDecay)
        case "adamw": return try AdamW(store: store, weightDecay: config.weightDecay)
        default: return try SGD(store: store, momentum: 0.9, nesterov: false, weightDecay: config.weightDecay)
        }
    }

    func saveCheckpoint(store: ParameterStore, optimizer: Optimizer, step: Int, epoch: Int, keepCopy: Bool) throws {
        guard comm.rank == 0 else { return }
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
        let url = folder.url.appendingPathComponent("encoder.safetensors")
        try file.write(to: url)
        return url.path
    }

    /// Weighted k-NN top-1 accuracy of the encoder's features: train split as memory, test split as queries.
    func knnMonitor(_ encoder: ResNet) throws -> Double {
        let path = config.knnData ?? config.data
        let format = DatasetFormat(name: config.format) ?? .auto
        let memory = try openDataset(path: path, format: format, split: .train)
        let queries = try openDataset(path: path, format: format, split: .test)
        let transform = EvaluationTransform(size: config.model.imageSize, normalization: config.model.normalization)
        let (bank, bankLabels) = try FeatureExtractor.features(of: memory, encoder: encoder, transform: transform)
        let (q, qLabels) = try FeatureExtractor.features(of: queries, encoder: encoder, transform: transform)
        let classifier = try KNNClassifier(k: min(20, memory.count))
        try classifier.fit(features: bank, labels: bankLabels, classes: max(memory.classNames.count, 1))
        return try classifier.evaluate(queries: q, labels: qLabels).top1
    }
}
