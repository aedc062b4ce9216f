import ArgumentParser
import Distributed

/// How the gradient all-reduce of a training step overlaps its backward pass.
public struct AllReduceOptions: ParsableArguments {
    @Option(name: .customLong("allreduce-bucket-mb"),
            help: "Gradient megabytes per all-reduce started during the backward pass (0: one all-reduce after it). With synchronised BatchNorm the pieces follow its all-reduces instead.")
    public var bucketMB = Double(BucketedAllReduce.defaultBucketFloats * 4) / 1_000_000

    public init() {}

    public func validate() throws {
        guard bucketMB.isFinite, bucketMB >= 0 else {
            throw ValidationError("--allreduce-bucket-mb must be a number not below 0")
        }
    }

    /// Gradient floats per overlapped all-reduce; nil for one after the backward pass.
    public var bucketFloats: Int? { bucketMB > 0 ? max(1, Int(bucketMB * 1_000_000 / 4)) : nil }
}
