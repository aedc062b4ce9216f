import Foundation
import Images
import NN

/// Every setting of a fine-tuning or linear-evaluation run, resolved (no `auto` left), saved as the
/// run's `config.json` and in every checkpoint's metadata.
///
/// The model's input size and normalisation come from the pretrained weights' metadata unless the
/// command line overrode them (`modelSource` says which), so evaluation normalises as pretraining did.
public struct FineTuneConfig: Codable, Equatable {
    public var command = "finetune"
    public var version = 1
    /// Training data path; nil for the built-in synthetic set.
    public var data: String?
    /// Separate test data (its test split when it has one, else all of it); nil: `data`'s own test
    /// split, or a held-out part of the training data when it has none.
    public var testData: String?
    public var format: DatasetFormat
    /// How datasets are opened (input channels follow the model; synthetic-set sizes).
    public var datasetOptions: DatasetOptions
    public var mode: FineTuneMode
    /// The encoder's weights file; nil with random initialisation.
    public var weights: String?
    public var model: ModelSpec
    /// Where `model`'s settings came from, for the record (e.g. "weights metadata").
    public var modelSource: String
    public var head: HeadChoice
    /// Hidden width of the `mlp` head.
    public var headHidden: Int?
    /// `lbfgs` is one fit on cached features: `epochs` 1 and `scheduler` none.
    public var optimizer: FineTuneOptimizer
    public var lr: Float
    /// Weight decay of adam/sgd (weights only, not biases or BatchNorm); for lbfgs the L2 strength λ
    /// on the mean loss.
    public var weightDecay: Float
    /// Images per step over all ranks.
    public var batchSize: Int
    public var epochs: Int
    public var scheduler: SchedulerChoice
    public var patience: Int
    public var factor: Double
    /// Share of each class of the training data held out for validation (scheduler, best checkpoint).
    public var valFraction: Double
    /// Share of each class held out for testing when the data has no test split and no `testData`.
    public var testFraction: Double
    /// Share of each class's training labels used (SimCLR's 1% / 10% protocol); 1: all.
    public var labelFraction: Double
    public var augment: FineTuneAugment
    /// The `light` pipeline (no colour changes); nil for `none`.
    public var augmentation: SimCLRAugmentation?
    /// Linear mode without augmentation: features are computed once and the head trains on them.
    public var cacheFeatures: Bool
    /// Images per forward and backward pass of a training step on images (gradients accumulated
    /// over the chunks); nil: each rank's whole share of the batch at once.
    public var microBatch: Int?
    public var seed: UInt64
    public var out: String

    public init(data: String?, testData: String? = nil, format: DatasetFormat = .auto,
                datasetOptions: DatasetOptions = DatasetOptions(), mode: FineTuneMode, weights: String?, model: ModelSpec,
                modelSource: String = "command line", head: HeadChoice = .linear, headHidden: Int? = nil,
                optimizer: FineTuneOptimizer = .adam, lr: Float? = nil, weightDecay: Float? = nil, batchSize: Int = 64,
                epochs: Int = 10, scheduler: SchedulerChoice = .plateau, patience: Int = 3, factor: Double = 0.1,
                valFraction: Double = 0.1, testFraction: Double = 0.2, labelFraction: Double = 1,
                augment: FineTuneAugment? = nil, microBatch: Int? = nil, seed: UInt64 = 0, out: String) {
        self.data = data; self.testData = testData; self.format = format
        self.datasetOptions = datasetOptions
        self.datasetOptions.channels = model.inputChannels
        self.mode = mode; self.weights = weights; self.model = model; self.modelSource = modelSource
        self.head = head; self.headHidden = head == .mlp ? (headHidden ?? RunDefaults.headHidden) : nil
        self.optimizer = optimizer
        self.lr = lr ?? RunDefaults.fineTuneLearningRate(optimizer: optimizer, mode: mode, pretrained: weights != nil)
        self.weightDecay = weightDecay ?? RunDefaults.fineTuneWeightDecay(optimizer: optimizer)
        // An L-BFGS fit is one pass to convergence: no epochs, no schedule.
        self.batchSize = batchSize; self.epochs = optimizer == .lbfgs ? 1 : epochs
        self.scheduler = optimizer == .lbfgs ? .constant : scheduler; self.patience = patience; self.factor = factor
        self.valFraction = valFraction; self.testFraction = testFraction; self.labelFraction = labelFraction
        let augment = augment ?? RunDefaults.fineTuneAugment(mode: mode)
        self.augment = augment
        augmentation = augment == .light
            ? RunDefaults.lightAugmentation(size: model.imageSize, normalization: model.normalization) : nil
        cacheFeatures = mode == .linear && augment == .evaluationView
        self.microBatch = microBatch
        self.seed = seed; self.out = out
    }

    /// The head as the model builds it.
    public var headKind: ClassifierHead.Kind {
        head == .mlp ? .mlp(hidden: headHidden ?? RunDefaults.headHidden) : .linear
    }

    /// Settings a resumed run may change without changing its trajectory. The number of epochs may
    /// grow unless the cosine schedule spans it.
    var resumable: Set<String> { scheduler == .cosine ? ["out"] : ["out", "epochs"] }

    /// Checks what the options alone cannot: the batch on `ranks` processes, the network the
    /// weights described, and what an L-BFGS fit needs.
    public func validate(ranks: Int) throws {
        if optimizer == .lbfgs {
            guard cacheFeatures, head == .linear else {
                throw TrainingError.invalidOption(
                    "--optimizer lbfgs fits a logistic regression on cached features: it needs --mode linear, "
                    + "--augment none and --head linear")
            }
        }
        guard batchSize % ranks == 0 else {
            throw TrainingError.invalidOption(
                "the global batch \(batchSize) does not divide among \(ranks) ranks; choose a multiple of \(ranks)")
        }
        guard model.imageSize >= 8 else { throw TrainingError.invalidOption("--image-size must be at least 8") }
    }

    /// The peak memory of one rank's step on `ranks` ranks: a back-propagated batch in full mode, a
    /// forward pass through the frozen encoder in linear mode.
    public func memoryEstimate(ranks: Int) -> MemoryEstimate {
        estimate(images: imagesAtOnce(ranks: ranks))
    }

    /// Throws, saying what would fit, when a step cannot fit in this machine's memory; `images` is the
    /// training split's size, which no batch exceeds.
    func checkMemory(ranks: Int, images: Int, memory: Double? = MemoryEstimate.availableBytes()) throws {
        let local = imagesAtOnce(ranks: ranks, data: max(images, 1))
        try MemoryEstimate.check("a fine-tuning step of \(local) images at \(model.imageSize) px", images: local,
                                 available: memory, suggestion: "lower --batch-size, or --micro-batch", estimate: estimate)
    }

    /// Images one rank passes at once: a micro-batch, or its share of the batch (or of the data).
    private func imagesAtOnce(ranks: Int, data: Int = Int.max) -> Int {
        min(batchSize / max(ranks, 1), data, microBatch ?? Int.max)
    }

    /// A step over `images` images: back-propagated in full mode, a frozen forward pass in linear mode.
    private func estimate(images: Int) -> MemoryEstimate {
        mode == .full ? .trainingStep(model, images: images) : .inference(model, images: images)
    }

    /// The names of settings that differ from `other` and would change the run's trajectory.
    func trajectoryDifferences(from other: FineTuneConfig) -> [String] {
        JSONValue.differingFields(self, other, ignoring: resumable)
    }
}
