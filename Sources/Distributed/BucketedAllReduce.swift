/// The gradient all-reduce of a data-parallel step, started bucket by bucket while the backward
/// pass is still running (PyTorch DDP's buckets), so that communication hides behind computation.
///
/// A backward pass finishes parameters from the end of the gradient buffer towards its start (the
/// head before the encoder, the last block before the first). The network reports each point from
/// which every later gradient is final (`ready(from:)`); once at least `bucketFloats` final floats
/// wait, they are started as one non-blocking reduction. `finish()` starts the rest and waits.
/// Bucket edges depend only on the reported offsets, so every rank starts the same reductions in
/// the same order. With `bucketFloats` nil, or one rank, the reduction is one call in `finish()`.
///
/// A backward pass with blocking all-reduces of its own (synchronised BatchNorm's statistics) is
/// `paced` instead: on a slow link such a small message waits behind every bucket byte already
/// sent, so buckets started as soon as they fill only move the wait into the backward pass. Paced,
/// final gradients start right after each of those all-reduces (`synchronised()`), spread evenly
/// over the ones still to come (counted in the previous pass), so each piece has the computation
/// up to the next one to travel in. The count of all-reduces and the reported offsets are the same
/// on every rank, so the pieces are too. The first pass, with no count yet, reduces in `finish()`.
public final class BucketedAllReduce {
    public let communicator: Communicator
    public let buffer: UnsafeMutablePointer<Float>
    public let count: Int
    public let bucketFloats: Int?
    /// 1 MB: a quarter-width ResNet-18's 2.8 MB of gradients go in three buckets, a full-width
    /// one's 45 MB in about 45.
    public static let defaultBucketFloats = 1 << 18
    /// Whether buckets start after the backward pass's own all-reduces (`synchronised()`) rather
    /// than as they fill.
    public var paced = false
    /// Floats below this offset have not been started.
    private var unstarted: Int
    /// Floats from this offset on are final.
    private var final: Int
    private var active = false
    /// `synchronised()` calls in this armed pass, and in the last one.
    private var synchronisations = 0, synchronisationsLastPass = 0

    public init(communicator: Communicator, buffer: UnsafeMutablePointer<Float>, count: Int, bucketFloats: Int?) {
        precondition(bucketFloats.map { $0 > 0 } ?? true, "BucketedAllReduce: bucket of \(bucketFloats ?? 0) floats")
        self.communicator = communicator
        self.buffer = buffer
        self.count = count
        self.bucketFloats = bucketFloats
        unstarted = count
        final = count
    }

    /// Arms the reduction for the backward pass that comes next (with gradient-cache chunks, the
    /// last one: earlier chunks still add into every gradient).
    public func begin() {
        unstarted = count
        final = count
        synchronisations = 0
        active = true
    }

    /// A blocking all-reduce of the backward pass has just returned: paced, the next even share of
    /// the final gradients not yet started goes out.
    public func synchronised() {
        guard active, paced, bucketFloats != nil, communicator.size > 1 else { return }
        defer { synchronisations += 1 }
        let left = synchronisationsLastPass - synchronisations, waiting = unstarted - final
        if left > 0 && waiting > 0 {
            let floats = (waiting + left - 1) / left
            unstarted -= floats
            communicator.startAllReduceSum(buffer + unstarted, count: floats)
        }
        communicator.progressReductions()
    }

    /// Every gradient from `offset` to the end of the buffer is final for this step.
    public func ready(from offset: Int) {
        guard active, let bucketFloats, communicator.size > 1 else { return }
        precondition(offset >= 0 && offset <= final, "BucketedAllReduce: offset \(offset) after \(final)")
        final = offset
        if !paced && unstarted - offset >= bucketFloats {
            communicator.startAllReduceSum(buffer + offset, count: unstarted - offset)
            unstarted = offset
        }
        communicator.progressReductions()
    }

    /// Starts what is left and returns once the whole buffer holds the sum over all ranks.
    public func finish() {
        defer {
            if active { synchronisationsLastPass = synchronisations }
            active = false
        }
        guard communicator.size > 1 else { return }
        if bucketFloats == nil || !active {
            communicator.allReduceSum(buffer, count: count)
            return
        }
        if unstarted > 0 { communicator.startAllReduceSum(buffer, count: unstarted) }
        communicator.finishReductions()
    }
}
