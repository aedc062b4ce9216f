import Foundation
import Images
import Optim
import Tensors

/// Fine-tuning on (augmented) images, data-parallel across ranks: each rank takes its share of a
/// step's images, the gradients of the global mean loss are summed, and every epoch ends with the
/// validation images in evaluation mode.
struct ImageTraining: FineTuneTraining {
    func run(_ run: FineTuneRun) throws -> (ClassifierResult, ClassifierOutputs) {
        let config = run.config, comm = run.context.comm
        let transform: ViewTransform = config.augmentation ?? run.evaluationTransform
        let loader = DataLoader(dataset: run.splits.train, transform: transform, batchSize: run.localBatch,
                                views: 1, rank: comm.rank, worldSize: comm.size, seed: config.seed, shuffle: true,
                                dropLast: false, workers: run.context.settings.workers)
        let stepsPerEpoch = loader.batchesPerEpoch
        guard stepsPerEpoch > 0 else {
            throw TrainingError.invalidOption("\(run.splits.train.count) training images do not divide among \(comm.size) ranks")
        }
        guard let optimizer = run.optimizer else { preconditionFailure("ImageTraining: no optimiser") }
        if config.mode == .full {
            let perRank = (run.splits.train.count - run.splits.train.count % comm.size) / comm.size
            let last = perRank % run.localBatch == 0 ? run.localBatch : perRank % run.localBatch
            try Self.checkBatchNormValues(model: config.model, smallestBatch: last, microBatch: config.microBatch)
        }
        let step = FineTuneStep(classifier: run.classifier, comm: comm, trainEncoder: config.mode == .full,
                                microBatch: config.microBatch,
                                bucketFloats: run.context.settings.bucketFloats)
        let schedule = try WarmupCosine(baseLR: config.lr, warmupSteps: 0, totalSteps: config.epochs * stepsPerEpoch)
        var lr = run.learningRate(schedule)
        try StepLoop(context: run.context, stepsPerEpoch: stepsPerEpoch, epochs: config.epochs).run(
            from: StepLoop.Position(epoch: run.progress.epoch, step: run.progress.step),
            beginEpoch: { epoch, firstStep in
                loader.start(epoch: epoch, firstStep: firstStep)
                lr = run.learningRate(schedule)
            },
            step: { position in
                guard let batch = try loader.next() else {
                    preconditionFailure("ImageTraining: the loader ended epoch \(position.epoch) before its \(stepsPerEpoch) steps")
                }
                let n = batch.count
                let x = n == batch.images.shape[0] ? batch.images
                    : Tensor(viewing: batch.images.data, shape: [n] + Array(batch.images.shape.dropFirst()))
                let local = step.run(x, labels: batch.labels)
                let global = comm.allReduceSum([local.lossSum, Double(local.hits), Double(n)])
                guard global[0].isFinite else {
                    throw TrainingError.nonFiniteLoss(step: run.progress.globalStep + 1, value: Float(global[0] / global[2]))
                }
                lr = run.learningRate(schedule)
                optimizer.step(lr: lr)
                run.recordStep(lossSum: global[0], hits: global[1], count: global[2])
                return [("loss", String(format: "%.4f", global[0] / global[2])), ("lr", String(format: "%.3g", lr))]
            },
            endEpoch: { _ in
                let outputs = try run.inference(run.splits.validation, logits: true, features: false)
                try run.finishEpoch(validation: run.result(outputs), lr: lr)
            },
            checkpoint: run.checkpoint)
        try run.loadBest()
        let outputs = try run.inference(run.splits.test, logits: true, features: true)
        return (run.result(outputs), outputs)
    }

    /// Training BatchNorm needs two values per channel; at the last stage a 1x1 map gives one per
    /// image, so a batch (or chunk) of a single image cannot train: refused before the first step.
    static func checkBatchNormValues(model: ModelSpec, smallestBatch: Int, microBatch: Int?) throws {
        let stride = model.stem == .imagenet ? 32 : 8
        let side = (model.imageSize + stride - 1) / stride
        let smallest = FineTuneStep.chunks(of: smallestBatch, atMost: microBatch ?? smallestBatch).map(\.count).min() ?? 0
        guard side > 1 || smallest > 1 else {
            throw TrainingError.invalidOption(
                "a training step of 1 image leaves BatchNorm one value per channel at the last stage (1x1 at "
                + "\(model.imageSize) px): choose a --batch-size (or --micro-batch) that leaves no batch or chunk "
                + "of a single image, or a larger --image-size")
        }
    }
}
