import ArgumentParser
import Foundation
import Images

/// Everything `simclr finetune` takes besides the data and the runtime; `config` resolves what was
/// left out (`RunDefaults`).
public struct FinetuneOptions: ParsableArguments {
    @Option(help: "Test data (its test split if it has one, else all of it); default: --data's test split.")
    public var testData: String?

    @Option(help: "full (the encoder trains too) or linear (frozen encoder in evaluation mode, head only).")
    public var mode: FineTuneMode

    @Option(help: "Pretrained encoder (encoder.safetensors, a checkpoint, or a torchvision-named file).")
    public var weights: String?

    @Option(name: .customLong("init"), help: "random: start from random weights (with --mode full the supervised baseline; with --mode linear the frozen random-encoder baseline).")
    public var initialization: Initialization?

    @OptionGroup public var model: ModelOptions

    @Option(help: "linear (fc) or mlp (fc.0, ReLU, fc.2).")
    public var head: HeadChoice = .linear
    @Option(help: "Hidden width of the mlp head (default 512).")
    public var headHidden: Int?

    @Option(help: "adam, sgd (momentum 0.9) or lbfgs (logistic regression on cached features: linear mode, --augment none).")
    public var optimizer: FineTuneOptimizer = .adam
    @Option(help: "Learning rate; default adam 1e-3 (1e-4 when fine-tuning pretrained weights in full), sgd 0.1 linear / 0.01 full.")
    public var lr: Float?
    @Option(help: "Weight decay (weights only, not biases or BatchNorm); for lbfgs the L2 strength on the mean loss. Default 0, lbfgs 1e-4.")
    public var weightDecay: Float?
    @Option(help: "Images per step over all ranks.")
    public var batchSize = 64
    @Option(help: "Epochs.")
    public var epochs = 10
    @Option(help: "Images per forward and backward pass on each rank, gradients accumulated over a step's chunks (BatchNorm normalises each chunk with its own statistics); default: the rank's whole share of the batch.")
    public var microBatch: Int?
    @Option(help: "plateau (ReduceLROnPlateau on the validation loss), cosine or none.")
    public var scheduler: SchedulerChoice = .plateau
    @Option(help: "Epochs without improvement of the validation loss before the plateau scheduler lowers the rate.")
    public var patience = 3
    @Option(help: "Factor the plateau scheduler multiplies the rate by.")
    public var factor = 0.1
    @Option(help: "Share of each class of the training data kept for validation.")
    public var valFraction = 0.1
    @Option(help: "Share of each class held out for testing when the data has no test split and no --test-data.")
    public var testFraction = 0.2
    @Option(help: "Share of each class's training labels to train on (e.g. 0.01, 0.1); validation is taken first.")
    public var labelFraction = 1.0
    @Option(help: "none (resize and centre crop) or light (random resized crop 0.5-1 and flip); default none for linear, light for full.")
    public var augment: FineTuneAugment?
    @Option(help: "Run folder.")
    public var out: String
    @OptionGroup public var start: RunStartOptions

    public init() {}

    public func validate() throws {
        switch (weights, initialization) {
        case (nil, nil): throw ValidationError("give --weights FILE (a pretrained encoder) or --init random")
        case (.some, .some): throw ValidationError("--weights and --init random exclude each other")
        default: break
        }
        if let weights, !FileManager.default.fileExists(atPath: weights) {
            throw ValidationError("--weights \(weights) does not exist")
        }
        if let testData, !FileManager.default.fileExists(atPath: testData) {
            throw ValidationError("--test-data \(testData) does not exist")
        }
        if headHidden != nil && head != .mlp { throw ValidationError("--head-hidden goes with --head mlp") }
        if let headHidden, headHidden <= 0 { throw ValidationError("--head-hidden must be positive") }
        if let lr, !(lr.isFinite && lr > 0) { throw ValidationError("--lr must be a positive number") }
        if let weightDecay, !(weightDecay.isFinite && weightDecay >= 0) {
            throw ValidationError("--weight-decay must be a number not below 0")
        }
        guard batchSize > 0, epochs > 0 else { throw ValidationError("--batch-size and --epochs must be positive") }
        if let microBatch, microBatch <= 0 { throw ValidationError("--micro-batch must be positive") }
        guard patience >= 0 else { throw ValidationError("--patience must not be negative") }
        guard factor > 0, factor < 1 else { throw ValidationError("--factor must be in (0, 1)") }
        guard valFraction > 0, valFraction < 1 else {
            throw ValidationError("--val-fraction must be in (0, 1): the validation split drives the scheduler and picks the best checkpoint")
        }
        guard testFraction > 0, testFraction < 1 else { throw ValidationError("--test-fraction must be in (0, 1)") }
        guard labelFraction > 0, labelFraction <= 1 else { throw ValidationError("--label-fraction must be in (0, 1]") }
    }

    /// The run's settings for `model` (resolved from the weights or the data, see `ModelRequest`).
    public func config(data: DataOptions, model: ModelSpec, modelSource: String, seed: UInt64) -> FineTuneConfig {
        FineTuneConfig(
            data: data.absolutePath, testData: testData.map(absolutePath(_:)), format: data.format, mode: mode,
            weights: weights.map(absolutePath(_:)), model: model, modelSource: modelSource, head: head,
            headHidden: headHidden, optimizer: optimizer, lr: lr, weightDecay: weightDecay, batchSize: batchSize,
            epochs: epochs, scheduler: scheduler, patience: patience, factor: factor, valFraction: valFraction,
            testFraction: testFraction, labelFraction: labelFraction, augment: augment, microBatch: microBatch,
            seed: seed, out: out)
    }
}
