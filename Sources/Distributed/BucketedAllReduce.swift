/// The gradient all-reduce of a data-parallel step, started bucket by bucket while the backward
/// pass is still running (PyTorch DDP's buckets), so that communication hides behind computation.
///
/// A backward pass finishes parameters from the end of the gradient buffer towards its start (the
/// head before the encoder, the last block before the first). The network reports each point from
/// which every later gradient is final (`ready(from:)`); once at least `bucketFloats` final floats
/// wait, they are started as one non-blocking reduction. `finish()` starts the rest and waits.
/// Bucket edges depend only on the reported offsets, so every rank starts the same reductions in
/// the same order. With `bucketFloats` nil, or one rank, the reduction is one call in `finish()`.
public final class BucketedAllReduce {
    public let communicator: Communicator
    public let buffer: UnsafeMutablePointer<Float>
    public let count: Int
    public let bucketFloats: Int?
    /// 1 MB: a quarter-width ResNet-18's 2.8 MB of gradients go in three buckets, a full-width
    /// one's 45 MB in about 45.
    public static let defaultBucketFloats = 1 << 18
    /// Floats below this offset have not been started.
    private var unstarted: Int
    private var active = false

    public init(communicator: Communicator, buffer: UnsafeMutablePointer<Float>, count: Int, bucketFloats: Int?) {
        precondition(bucketFloats.map { $0 > 0 } ?? true, "BucketedAllReduce: bucket of \(bucketFloats ?? 0) floats")
        self.communicator = communicator
        self.buffer = buffer
        self.count = count
        self.bucketFloats = bucketFloats
        unstarted = count
    }

    /// Arms the reduction for the backward pass that comes next (with gradient-cache chunks, the
    /// last one: earlier chunks still add into every gradient).
    public func begin() {
        unstarted = count
        active = true
    }

    /// Every gradient from `offset` to the end of the buffer is final for this step.
    public func ready(from offset: Int) {
        guard active, let bucketFloats, communicator.size > 1 else { return }
        precondition(offset >= 0 && offset <= unstarted, "BucketedAllReduce: offset \(offset) after \(unstarted)")
        if unstarted - offset >= bucketFloats {
            communicator.startAllReduceSum(buffer + offset, count: unstarted - offset)
            unstarted = offset
        }
        communicator.progressReductions()
    }

    /// Starts what is left and returns once the whole buffer holds the sum over all ranks.
    public func finish() {
        defer { active = false }
        guard communicator.size > 1 else { return }
        if bucketFloats == nil || !active {
            communicator.allReduceSum(buffer, count: count)
            return
        }
        if unstarted > 0 { communicator.startAllReduceSum(buffer, count: unstarted) }
        communicator.finishReductions()
    }
}
