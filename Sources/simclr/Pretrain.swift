import ArgumentParser
import Foundation
import Images
import Training

struct Pretrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Learn an encoder without labels (SimCLR), on this machine or across MPI ranks.",
        discussion: """
        Started directly, runs as one process. Started by mpirun (./launch pretrain ...), every rank takes \
        an equal share of the global batch and the projections are gathered so the loss sees all of them.
        """)

    @OptionGroup var dataOptions: DataOptions
    @OptionGroup var modelOptions: ModelOptions

    @Option(help: "Images per step over all ranks.")
    var batchSize = 256
    @Option(help: "Epochs the learning-rate schedule spans.")
    var epochs = 100
    @Option(help: "Stop when the run has made this many steps in all (counting those before a resume).")
    var steps: Int?
    @Option(help: "NT-Xent temperature; default 0.2 for images of 64 px or less, else 0.1.")
    var temperature: Float?
    @Option(name: .customLong("proj-hidden"), help: "Hidden width of the projection head; default: the encoder's feature size.")
    var projectionHidden: Int?
    @Option(name: .customLong("proj-dim"), help: "Output size of the projection head.")
    var projectionDimension = 128
    @Option(name: .customLong("proj-layers"), help: "Linear layers in the projection head (2 or 3).")
    var projectionLayers = 2
    @Flag(name: .customLong("proj-bn"), help: "BatchNorm after the projection head's hidden layers.")
    var projectionBatchNorm = false
    @Option(help: "lars, adam, adamw or sgd.")
    var optimizer = "lars"
    @Option(help: "Peak learning rate; default for lars and sgd 0.075 x sqrt(batch) for images of 64 px or less, else 0.3 x batch/256; 1e-3 for adam(w).")
    var lr: Float?
    @Option(help: "Weight decay (lars and sgd: not on biases and BatchNorm).")
    var weightDecay: Float = 1e-6
    @Option(help: "Linear warm-up before the cosine decay; default min(10, epochs/10).")
    var warmupEpochs: Double?
    @Option(help: "Images per gradient-cache chunk: same loss, a fraction of the memory.")
    var microBatch: Int?
    @OptionGroup var batchNorm: BatchNormOptions
    @Option(help: "Colour-jitter strength s; default 1 (for images of 32 px or less too, see the README's study).")
    var strength: Float?
    @Option(help: "Smallest area fraction of a random resized crop (the largest is 1); default 0.3 for images of 32 px or less, else 0.08.")
    var cropScale: Float?
    @Option(help: "Also keep a checkpoint copy every K steps (last.safetensors is rewritten each epoch and at the end).")
    var checkpointEvery = 0
    @Option(help: "Run the k-NN monitor every E epochs (0: never).")
    var knnEvery = 0
    @Option(help: "Labelled data for the k-NN monitor; default: --data.")
    var knnData: String?
    @Option(help: "Run folder.")
    var out = "runs/pretrain"
    @Flag(help: "Continue the run in --out from its last checkpoint.")
    var resume = false

    @OptionGroup var runtime: RuntimeOptions

    func validate() throws {
        guard batchSize > 0 else { throw ValidationError("--batch-size must be positive") }
        guard epochs > 0 else { throw ValidationError("--epochs must be positive") }
        if let steps, steps <= 0 { throw ValidationError("--steps must be positive") }
        guard ["lars", "adam", "adamw", "sgd"].contains(optimizer) else {
            throw ValidationError("unknown --optimizer '\(optimizer)' (expected lars, adam, adamw or sgd)")
        }
        if let microBatch, microBatch <= 0 { throw ValidationError("--micro-batch must be positive") }
        if let cropScale, !(cropScale > 0 && cropScale <= 1) { throw ValidationError("--crop-scale must be in (0, 1]") }
    }

    /// SimCLR's two rules for the peak rate of lars and sgd: linear in the batch (0.3 at 256) for
    /// long runs on large images, and its square-root rule (0.075 sqrt(B), 1.2 at 256) for small
    /// images, where runs are short: at batch 256 on Fashion-MNIST, one epoch reached 82.5% linear
    /// accuracy against 79.2% at 0.3 (scripts/study.sh).
    static func defaultLearningRate(optimizer: String, batchSize: Int, smallImages: Bool) -> Float {
        if optimizer.hasPrefix("adam") { return 1e-3 }
        return smallImages ? 0.075 * Float(batchSize).squareRoot() : 0.3 * Float(batchSize) / 256
    }

    func run() throws {
        try runJob { comm in
            // Only to resolve the model: the Pretrainer opens the data again and validates every file then.
            let dataset = try openDataset(path: dataOptions.data, format: dataOptions.datasetFormat, split: .train,
                                          options: DatasetOptions(validation: .none), skipLog: SkipLog(printLimit: 0))
            let model = try modelOptions.request.resolve(for: dataset)
            let small = model.imageSize <= 64
            // SimCLR's CIFAR recipe jitters small images at 0.5; on Fashion-MNIST one epoch at 1.0 reached
            // 84.3% linear accuracy against 82.8% (at temperature 0.2; 83.1% at 0.5; scripts/study.sh).
            var augmentation = SimCLRAugmentation(size: model.imageSize, strength: strength ?? 1,
                                                  normalization: model.normalization)
            augmentation.normalization = model.normalization
            // Fashion-MNIST at 28 px: 0.3 measured 82.8% against 82.5% for SimCLR's 0.08 (scripts/study.sh).
            augmentation.cropScale = (cropScale ?? (model.imageSize <= 32 ? 0.3 : 0.08))...1
            let featureSize = model.resNetConfig.featureDimension
            let config = PretrainConfig(
                data: dataOptions.data.map { URL(fileURLWithPath: $0).standardizedFileURL.path },
                format: dataOptions.format, model: model, augmentation: augmentation,
                batchSize: batchSize, epochs: epochs, steps: steps, temperature: temperature ?? (small ? 0.2 : 0.1),
                projectionHidden: projectionHidden ?? featureSize, projectionDimension: projectionDimension,
                projectionLayers: projectionLayers, projectionBatchNorm: projectionBatchNorm, optimizer: optimizer,
                lr: lr ?? Self.defaultLearningRate(optimizer: optimizer, batchSize: batchSize, smallImages: small),
                weightDecay: weightDecay, warmupEpochs: warmupEpochs ?? min(10, Double(epochs) / 10),
                microBatch: microBatch, bn: batchNorm.bn, seed: runtime.seed, checkpointEvery: checkpointEvery,
                knnEvery: knnEvery, knnData: knnData, out: out)
            let stop = StopSignal()
            let trainer = Pretrainer(config: config, communicator: comm, resume: resume,
                                     threads: runtime.resolvedThreads, workers: runtime.workers,
                                     bucketFloats: runtime.allReduce.bucketFloats)
            let summary = try trainer.run(stop: stop)
            if comm.rank == 0, summary.skippedImages > 0 {
                writeError("simclr: \(summary.skippedImages) unreadable image(s) skipped\n")
            }
        }
    }
}
