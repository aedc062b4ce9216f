import ArgumentParser
import Foundation
import Images

/// Everything `simclr pretrain` takes besides the data, the network and the runtime; `config`
/// resolves what was left out (`RunDefaults`).
public struct PretrainOptions: ParsableArguments {
    @Option(help: "Images per step over all ranks.")
    public var batchSize = 256
    @Option(help: "Epochs the learning-rate schedule spans.")
    public var epochs = 100
    @Option(help: "Stop when the run has made this many steps in all (counting those before a resume).")
    public var steps: Int?
    @Option(help: "NT-Xent temperature; default 0.2 for images of 64 px or less, else 0.1.")
    public var temperature: Float?
    @Option(name: .customLong("proj-hidden"), help: "Hidden width of the projection head; default: the encoder's feature size.")
    public var projectionHidden: Int?
    @Option(name: .customLong("proj-dim"), help: "Output size of the projection head.")
    public var projectionDimension = 128
    @Option(name: .customLong("proj-layers"), help: "Linear layers in the projection head (2 or 3).")
    public var projectionLayers = 2
    @Flag(name: .customLong("proj-bn"), help: "BatchNorm after the projection head's hidden layers.")
    public var projectionBatchNorm = false
    @Option(help: "lars, adam, adamw or sgd.")
    public var optimizer: PretrainOptimizer = .lars
    @Option(help: "Peak learning rate; default for lars and sgd 0.075 x sqrt(batch) for images of 64 px or less, else 0.3 x batch/256; 1e-3 for adam(w).")
    public var lr: Float?
    @Option(help: "Weight decay (lars and sgd: not on biases and BatchNorm).")
    public var weightDecay: Float = 1e-6
    @Option(help: "Linear warm-up before the cosine decay; default min(10, epochs/10).")
    public var warmupEpochs: Double?
    @Option(help: "Images per gradient-cache chunk: same loss, a fraction of the memory.")
    public var microBatch: Int?
    @OptionGroup public var batchNorm: BatchNormOptions
    @Option(help: "Colour-jitter strength s; default 1.")
    public var strength: Float?
    @Option(help: "Smallest area fraction of a random resized crop (the largest is 1); default 0.3 for images of 32 px or less, else 0.08.")
    public var cropScale: Float?
    @Option(help: "Also keep a checkpoint copy every K steps (last.safetensors is rewritten each epoch and at the end).")
    public var checkpointEvery = 0
    @Option(help: "Run the k-NN monitor every E epochs (0: never).")
    public var knnEvery = 0
    @Option(help: "Labelled data for the k-NN monitor; default: --data.")
    public var knnData: String?
    @Option(help: "Run folder.")
    public var out = "runs/pretrain"
    @OptionGroup public var start: RunStartOptions

    public init() {}

    public func validate() throws {
        guard batchSize > 0 else { throw ValidationError("--batch-size must be positive") }
        guard epochs > 0 else { throw ValidationError("--epochs must be positive") }
        if let steps, steps <= 0 { throw ValidationError("--steps must be positive") }
        if let temperature, !(temperature.isFinite && temperature > 0) {
            throw ValidationError("--temperature must be a positive number")
        }
        if let projectionHidden, projectionHidden <= 0 { throw ValidationError("--proj-hidden must be positive") }
        guard projectionDimension > 0 else { throw ValidationError("--proj-dim must be positive") }
        guard (2...3).contains(projectionLayers) else { throw ValidationError("--proj-layers takes 2 or 3") }
        if let lr, !(lr.isFinite && lr > 0) { throw ValidationError("--lr must be a positive number") }
        guard weightDecay.isFinite, weightDecay >= 0 else { throw ValidationError("--weight-decay must be a number not below 0") }
        if let warmupEpochs, !(warmupEpochs.isFinite && warmupEpochs >= 0) {
            throw ValidationError("--warmup-epochs must be a number not below 0")
        }
        if let microBatch, microBatch <= 0 { throw ValidationError("--micro-batch must be positive") }
        if let strength, !(strength.isFinite && strength >= 0) { throw ValidationError("--strength must be a number not below 0") }
        if let cropScale, !(cropScale > 0 && cropScale <= 1) { throw ValidationError("--crop-scale must be in (0, 1]") }
        guard checkpointEvery >= 0 else { throw ValidationError("--checkpoint-every must not be negative") }
        guard knnEvery >= 0 else { throw ValidationError("--knn-every must not be negative") }
        if let knnData, !FileManager.default.fileExists(atPath: knnData) {
            throw ValidationError("--knn-data \(knnData) does not exist")
        }
    }

    /// The run's settings with every default resolved for `model` (resolved on the data).
    public func config(data: DataOptions, model: ModelSpec, seed: UInt64) -> PretrainConfig {
        var augmentation = SimCLRAugmentation(size: model.imageSize, strength: strength ?? RunDefaults.jitterStrength,
                                              normalization: model.normalization)
        augmentation.cropScale = (cropScale ?? RunDefaults.cropScale(imageSize: model.imageSize))...1
        return PretrainConfig(
            data: data.absolutePath, format: data.format, model: model, augmentation: augmentation,
            batchSize: batchSize, epochs: epochs, steps: steps,
            temperature: temperature ?? RunDefaults.temperature(imageSize: model.imageSize),
            projectionHidden: projectionHidden ?? model.resNetConfig.featureDimension,
            projectionDimension: projectionDimension, projectionLayers: projectionLayers,
            projectionBatchNorm: projectionBatchNorm, optimizer: optimizer,
            lr: lr ?? RunDefaults.pretrainLearningRate(optimizer: optimizer, batchSize: batchSize, imageSize: model.imageSize),
            weightDecay: weightDecay, warmupEpochs: warmupEpochs ?? RunDefaults.warmupEpochs(epochs: epochs),
            microBatch: microBatch, bn: batchNorm.bn, seed: seed, checkpointEvery: checkpointEvery,
            knnEvery: knnEvery, knnData: knnData.map(absolutePath(_:)), out: out)
    }
}
