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

    /// - Parameter bucketFloats: gradient floats per all-reduce started during the encoder's
    ///   backward pass; nil for one all-reduce after it.
    init(classifier: Classifier, comm: Communicator, trainEncoder: Bool,
         bucketFloats: Int? = BucketedAllReduce.defaultBucketFloats) {
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

    /// x: [b, H, W, C] and its b labels. Returns this rank's loss sum (mean loss · b) and correct count.
    func run(_ x: Tensor, labels: [Int]) -> (lossSum: Double, hits: Int) {
        let b = x.shape[0]
        precondition(labels.count == b, "FineTuneStep: \(b) images, \(labels.count) labels")
        store.zeroGrad()
        let h = classifier.encoder.forward(x, mode: trainEncoder ? .training : .inference)    // [b, F]
        let logits = classifier.head.forward(h, mode: .training)                              // [b, K]
        let d = dLogits.get(logits.shape)
        let mean = loss.lossAndGradient(logits: logits, labels: labels, dLogits: d)
        let hits = CrossEntropyLoss.correctCount(logits: logits, labels: labels)
        if comm.size > 1 {
            let scale = 1 / Float(comm.size), dp = d.data
            for i in 0..<d.count { dp[i] *= scale }
        }
        reduction.begin()
        let dh = classifier.head.backward(d)
        if trainEncoder { _ = classifier.encoder.backward(dh) }
        reduction.finish()
        return (Double(mean) * Double(b), hits)
    }
}
