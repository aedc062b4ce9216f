import Distributed

/// How a run uses its machines: settings of the machines, not of the run, so they may change
/// between a run and its resumption and are not saved in its config.
public struct RunSettings: Sendable {
    /// Compute threads of each rank.
    public var threads: Int
    /// Data-loading threads of each rank.
    public var workers: Int
    /// Gradient floats per all-reduce started during the backward pass (nil: one after it).
    public var bucketFloats: Int?

    public init(threads: Int, workers: Int, bucketFloats: Int? = BucketedAllReduce.defaultBucketFloats) {
        self.threads = threads; self.workers = workers; self.bucketFloats = bucketFloats
    }
}
