import Distributed
import NN
import Optim
import Tensors

/// One supervised training step on a rank's share of a global batch, leaving in the trained store
/// the gradient of the GLOBAL mean loss (the optimiser step is the caller's):
///
/// ```
/// x [b, H, W, C] ─▶ f (training mode, or evaluation mode when frozen) ─▶ h [b, F] ─▶ head ─▶ logits [b, K]
/// ─▶ cross-entropy; dlogits scaled by b/B ─▶ backward head (and f) ─▶ all-reduce (sum) of the gradients
/// ```
///
/// With a trained encoder the all-reduce starts in buckets during its backward pass (`BucketedAllReduce`).
///
/// Every rank holds the same number b of the step's B = P·b images (the loader's sharding
/// guarantees it, also for the last, partial batch), so `CrossEntropyLoss`'s gradient of the local
/// mean times 1/P is each rank's part of the global mean's gradient and the summed gradients are
/// those of one process with the whole batch. With a trained encoder its BatchNorm layers are
/// synchronised, so their statistics are the global batch's too.
final class FineTuneStep {
    let classifier: Classifier
    let comm: Communicator
    let trainEncoder: Bool
    /// The store whose gradients this step fills (and the optimiser updates).
    let store: ParameterStore
    private let loss = try! CrossEntropyLoss()
    private var dLogits = Workspace()
    private let reduction: BucketedAllReduce

    /// Images per forward and backward pass; nil: the whole local batch at once.
    let microBatch: Int?

    /// - Parameters:
    ///   - microBatch: images per chunk: the chunks' gradients add up to the batch's, so a large
    ///     batch fits in memory. Each chunk's BatchNorm normalises with that chunk's statistics and
    ///     updates the running statistics once per chunk, as accumulating gradients in PyTorch does.
    ///   - bucketFloats: gradient floats per all-reduce started during the encoder's backward pass
    ///     (of the last chunk); nil for one all-reduce after it.
    init(classifier: Classifier, comm: Communicator, trainEncoder: Bool, microBatch: Int? = nil,
         bucketFloats: Int? = BucketedAllReduce.defaultBucketFloats) {
        self.microBatch = microBatch
        precondition(!trainEncoder || classifier.isJoint, "FineTuneStep: a trained encoder shares the head's store")
        self.classifier = classifier
        self.comm = comm
        self.trainEncoder = trainEncoder
        store = trainEncoder ? classifier.encoderStore : classifier.headStore
        // The head follows the encoder in the store: each encoder block's report covers it too.
        reduction = BucketedAllReduce(communicator: comm, buffer: store.grads, count: store.count,
                                      bucketFloats: trainEncoder ? bucketFloats : nil)
        if trainEncoder { classifier.encoder.gradientsReady = { [reduction] in reduction.ready(from: $0) } }
        if trainEncoder && comm.size > 1 { reduction.synchroniseStatistics(of: classifier.encoder.batchNorms) }
    }

    /// `b` images in as few chunks of at most `m` as can hold them, of sizes differing by at most
    /// one (7 by 3: 3, 2, 2), so that no chunk is left with a single image for BatchNorm.
    static func chunks(of b: Int, atMost m: Int) -> [Range<Int>] {
        let count = (b + max(m, 1) - 1) / max(m, 1)
        guard count > 1 else { return [0 ..< b] }
        var start = 0
        return (0..<count).map { i in
            let n = b / count + (i < b % count ? 1 : 0)
            defer { start += n }
            return start ..< start + n
        }
    }

    /// x: [b, H, W, C] and its b labels. Returns this rank's loss sum (mean loss · b) and correct count.
    func run(_ x: Tensor, labels: [Int]) -> (lossSum: Double, hits: Int) {
        let b = x.shape[0]
        precondition(labels.count == b, "FineTuneStep: \(b) images, \(labels.count) labels")
        store.zeroGrad()
        let imageFloats = x.count / max(b, 1)
        var lossSum = 0.0, hits = 0
        for range in Self.chunks(of: b, atMost: microBatch ?? b) {
            let start = range.lowerBound, n = range.count
            let xc = n == b ? x : Tensor(viewing: x.data + start * imageFloats, shape: [n] + Array(x.shape.dropFirst()))
            let h = classifier.encoder.forward(xc, mode: trainEncoder ? .training : .inference)    // [n, F]
            let logits = classifier.head.forward(h, mode: .training)                               // [n, K]
            let d = dLogits.get(logits.shape)
            let chunkLabels = Array(labels[start ..< start + n])
            let mean = loss.lossAndGradient(logits: logits, labels: chunkLabels, dLogits: d)
            hits += CrossEntropyLoss.correctCount(logits: logits, labels: chunkLabels)
            lossSum += Double(mean) * Double(n)
            // The chunk mean's gradient times n/b is its share of the batch mean's, and 1/P of that
            // the global mean's.
            let scale = Float(n) / Float(b) / Float(comm.size)
            if scale != 1 {
                let dp = d.data
                for i in 0..<d.count { dp[i] *= scale }
            }
            // Only the last chunk's gradients are final, so only its backward pass starts reductions.
            if start + n == b { reduction.begin() }
            let dh = classifier.head.backward(d)
            if trainEncoder { _ = classifier.encoder.backward(dh) }
        }
        reduction.finish()
        return (lossSum, hits)
    }
}
