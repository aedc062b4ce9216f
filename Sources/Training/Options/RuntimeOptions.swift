import ArgumentParser

/// How a training process runs: its seed, its cores, and its gradient all-reduce.
public struct RuntimeOptions: ParsableArguments {
    @Option(help: "Seed of every random choice (initial weights, data order, augmentations).")
    public var seed: UInt64 = 0

    @OptionGroup public var compute: ComputeOptions
    @OptionGroup public var allReduce: AllReduceOptions

    public init() {}

    /// What the run needs of these options.
    public var settings: RunSettings {
        RunSettings(threads: compute.resolvedThreads, workers: compute.workers, bucketFloats: allReduce.bucketFloats)
    }
}
