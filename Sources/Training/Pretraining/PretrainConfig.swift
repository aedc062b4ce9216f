import Images

/// Every setting of a pretraining run, resolved (no `auto` left), saved as the run's `config.json`
/// and in every checkpoint's metadata.
public struct PretrainConfig: Codable, Equatable {
    public var command = "pretrain"
    public var version = 1
    /// Dataset path; nil for the built-in synthetic set.
    public var data: String?
    public var format: DatasetFormat
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
    public var optimizer: PretrainOptimizer
    public var lr: Float
    public var weightDecay: Float
    public var warmupEpochs: Double
    /// Images per chunk of the gradient cache; nil computes the whole local batch at once.
    public var microBatch: Int?
    public var bn: BatchNormStatistics
    public var seed: UInt64
    public var checkpointEvery: Int
    public var knnEvery: Int
    public var knnData: String?
    public var out: String

    public init(data: String?, format: DatasetFormat, model: ModelSpec, augmentation: SimCLRAugmentation,
                batchSize: Int, epochs: Int, steps: Int?, temperature: Float, projectionHidden: Int,
                projectionDimension: Int, projectionLayers: Int, projectionBatchNorm: Bool, optimizer: PretrainOptimizer,
                lr: Float, weightDecay: Float, warmupEpochs: Double, microBatch: Int?, bn: BatchNormStatistics,
                seed: UInt64, checkpointEvery: Int, knnEvery: Int, knnData: String?, out: String) {
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

    /// Checks what the options alone cannot: how the batch divides among `ranks` processes, and
    /// the network resolved on the data.
    public func validate(ranks: Int) throws {
        guard batchSize % ranks == 0 else {
            throw TrainingError.invalidOption(
                "the global batch \(batchSize) does not divide among \(ranks) ranks; choose a multiple of \(ranks)")
        }
        if let m = microBatch {
            let local = batchSize / ranks
            guard local % m == 0 else {
                throw TrainingError.invalidOption(
                    "--micro-batch \(m) does not divide the local batch of \(local) images (\(batchSize) over \(ranks) ranks)")
            }
        }
        guard model.imageSize >= 8 else { throw TrainingError.invalidOption("--image-size must be at least 8") }
    }

    /// The peak memory of one rank's step on `ranks` ranks: the views back-propagated at once (a
    /// gradient-cache chunk's, or the whole local batch's).
    public func memoryEstimate(ranks: Int) -> MemoryEstimate {
        .trainingStep(model, images: viewsAtOnce(ranks: ranks))
    }

    /// Throws, saying what would fit, when a step cannot fit in this machine's memory.
    func checkMemory(ranks: Int, available: Double? = MemoryEstimate.availableBytes()) throws {
        let views = viewsAtOnce(ranks: ranks)
        try MemoryEstimate.check("a pretraining step of \(views) views at \(model.imageSize) px", images: views,
                                 available: available,
                                 suggestion: "lower --batch-size, or compute it in chunks with --micro-batch") {
            .trainingStep(model, images: $0)
        }
    }

    /// Views one rank back-propagates at once: two per image of a chunk, or of its whole share.
    private func viewsAtOnce(ranks: Int) -> Int {
        2 * (microBatch ?? batchSize / max(ranks, 1))
    }

    /// The names of settings that differ from `other` and would change the run's trajectory.
    func trajectoryDifferences(from other: PretrainConfig) -> [String] {
        JSONValue.differingFields(self, other, ignoring: Self.resumable)
    }
}
