import Images

/// Every setting of a pretraining run, resolved (no `auto` left), saved as the run's `config.json`
/// and in every checkpoint's metadata.
public struct PretrainConfig: Codable, Equatable {
    public var command = "pretrain"
    public var version = 1
    /// Dataset path; nil for the built-in synthetic set.
    public var data: String?
    public var format: String
    public var model: ModelSpec
    public var augmentation: SimCLRAugmentation
    /// Images per step over all ranks.
    public var batchSize: Int
    public var epochs: Int
    /// Stop once the run has made this many steps in all (the schedule still follows `epochs`).
    public var steps: Int?
    public var temperature: Float
    public var projectionHidden: Int
    public var projectionDimension: Int
    public var projectionLayers: Int
    public var projectionBatchNorm: Bool
    public var optimizer: String
    public var lr: Float
    public var weightDecay: Float
    public var warmupEpochs: Double
    /// Images per chunk of the gradient cache; nil computes the whole local batch at once.
    public var microBatch: Int?
    /// `sync` or `local` BatchNorm statistics.
    public var bn: String
    public var seed: UInt64
    public var checkpointEvery: Int
    public var knnEvery: Int
    public var knnData: String?
    public var out: String

    public init(data: String?, format: String, model: ModelSpec, augmentation: SimCLRAugmentation,
                batchSize: Int, epochs: Int, steps: Int?, temperature: Float, projectionHidden: Int,
                projectionDimension: Int, projectionLayers: Int, projectionBatchNorm: Bool, optimizer: String,
                lr: Float, weightDecay: Float, warmupEpochs: Double, microBatch: Int?, bn: String, seed: UInt64,
                checkpointEvery: Int, knnEvery: Int, knnData: String?, out: String) {
        self.data = data; self.format = format; self.model = model; self.augmentation = augmentation
        self.batchSize = batchSize; self.epochs = epochs; self.steps = steps; self.temperature = temperature
        self.projectionHidden = projectionHidden; self.projectionDimension = projectionDimension
        self.projectionLayers = projectionLayers; self.projectionBatchNorm = projectionBatchNorm
        self.optimizer = optimizer; self.lr = lr; self.weightDecay = weightDecay; self.warmupEpochs = warmupEpochs
        self.microBatch = microBatch; self.bn = bn; self.seed = seed; self.checkpointEvery = checkpointEvery
        self.knnEvery = knnEvery; self.knnData = knnData; self.out = out
    }

    /// Settings a resumed run may change without changing the trajectory.
    static let resumable: Set<String> = ["steps", "checkpointEvery", "knnEvery", "knnData", "out"]

    /// Checks what can be checked before any work, for a run on `ranks` processes.
    public func validate(ranks: Int) throws {
        try ModelSpec.checkArchitecture(model.arch)
        guard batchSize > 0, epochs > 0 else {
            throw TrainingError.invalidOption("--batch-size and --epochs must be positive")
        }
        guard batchSize % ranks == 0 else {
            throw TrainingError.invalidOption(
                "the global batch \(batchSize) does not divide among \(ranks) ranks; choose a multiple of \(ranks)")
        }
        if let m = microBatch {
            let local = batchSize / ranks
            guard m > 0, local % m == 0 else {
                throw TrainingError.invalidOption(
                    "--micro-batch \(m) does not divide the local batch of \(local) images (\(batchSize) over \(ranks) ranks)")
            }
        }
        guard ["lars", "adam", "adamw", "sgd"].contains(optimizer) else {
            throw TrainingError.invalidOption("unknown --optimizer '\(optimizer)' (expected lars, adam, adamw or sgd)")
        }
        guard ["sync", "local"].contains(bn) else {
            throw TrainingError.invalidOption("--bn takes sync or local, not '\(bn)'")
        }
        guard temperature > 0, lr > 0, weightDecay >= 0, warmupEpochs >= 0 else {
            throw TrainingError.invalidOption("--temperature and --lr must be positive, --weight-decay and --warmup-epochs not negative")
        }
        guard (2...3).contains(projectionLayers), projectionHidden > 0, projectionDimension > 0 else {
            throw TrainingError.invalidOption("--proj-layers takes 2 or 3; --proj-hidden and --proj-dim must be positive")
        }
        guard model.imageSize >= 8 else { throw TrainingError.invalidOption("--image-size must be at least 8") }
        if let steps, steps <= 0 { throw TrainingError.invalidOption("--steps must be positive") }
    }

    /// The names of settings that differ from `other` and would change the run's trajectory.
    func trajectoryDifferences(from other: PretrainConfig) -> [String] {
        JSONValue.differingFields(self, other, ignoring: Self.resumable)
    }
}
