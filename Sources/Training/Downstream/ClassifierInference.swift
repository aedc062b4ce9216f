import Distributed
import Images
import NN
import Tensors

/// What a classifier makes of a whole dataset, rows in the dataset's order: `logits: [N, K]`,
/// encoder `features: [N, F]` (each when asked for) and the labels of the images actually read.
struct ClassifierOutputs {
    var logits: Tensor?
    var features: Tensor?
    var labels: [Int]
}

/// Runs a classifier in evaluation mode (running BatchNorm statistics, nothing updated) over one
/// dataset, split across ranks: rank r takes the r-th contiguous block of ⌈N/P⌉ samples, and the
/// rows are gathered so that every rank ends with all N of them. Every sample is seen exactly once
/// whatever P is, and a sample's outputs do not depend on its batch, so the result is the same on
/// any number of ranks. The loader (and its image cache) is kept for repeated passes, e.g. the
/// validation set after every epoch.
final class ClassifierInference {
    let count: Int
    let comm: Communicator
    private let block: Range<Int>
    private let loader: DataLoader

    /// - Parameter batchSize: images per forward pass on this rank.
    init(dataset: ImageDataset, transform: ViewTransform, comm: Communicator, batchSize: Int, workers: Int) {
        count = dataset.count
        self.comm = comm
        let chunk = (count + comm.size - 1) / comm.size
        block = min(comm.rank * chunk, count) ..< min((comm.rank + 1) * chunk, count)
        loader = DataLoader(dataset: SubsetDataset(dataset, indices: Array(block), tag: "rank \(comm.rank)"),
                            transform: transform, batchSize: max(1, batchSize), views: 1, shuffle: false,
                            dropLast: false, workers: workers)
    }

    /// One pass over the dataset. `logits` needs the head; `features` are the encoder's output.
    func run(_ classifier: Classifier, logits wantLogits: Bool, features wantFeatures: Bool) throws -> ClassifierOutputs {
        try run(encoder: classifier.encoder, head: wantLogits ? classifier.head : nil, features: wantFeatures)
    }

    /// One pass over the dataset: the head's logits when there is a head, the encoder's features
    /// when asked for.
    func run(encoder: ResNet, head: ClassifierHead?, features wantFeatures: Bool) throws -> ClassifierOutputs {
        let p = comm.size, n = count
        let chunk = (n + p - 1) / p
        let k = head?.classes ?? 0
        let f = wantFeatures ? encoder.featureDimension : 0
        let width = k + f + 1
        // rows: [⌈N/P⌉, K + F + 1] — logits, features, label — padded past this rank's block.
        let rows = Tensor(zeros: [max(chunk, 1), width])
        loader.start(epoch: 0)
        var row = 0
        while let batch = try loader.next() {
            let m = batch.count
            let x = m == batch.images.shape[0] ? batch.images
                : Tensor(viewing: batch.images.data, shape: [m] + Array(batch.images.shape.dropFirst()))
            let h = encoder.forward(x, mode: .inference)   // [m, F]
            let logits = head?.forward(h, mode: .inference)   // [m, K]
            let labels = batch.labels
            for i in 0..<m {
                let out = rows.data + (row + i) * width
                if let logits { out.update(from: logits.data + i * k, count: k) }
                if f > 0 { (out + k).update(from: h.data + i * f, count: f) }
                out[k + f] = Float(labels[i])
            }
            row += m
        }
        precondition(row == block.count, "ClassifierInference: \(row) of \(block.count) images seen")

        let all: Tensor   // [P·⌈N/P⌉, K + F + 1], rank-major: exactly the dataset's order
        if p > 1 {
            all = Tensor(zeros: [p * max(chunk, 1), width])
            comm.allGather(rows.data, count: max(chunk, 1) * width, into: all.data)
        } else {
            all = rows
        }
        let stride = max(chunk, 1) * width
        var outputs = ClassifierOutputs(logits: k > 0 ? Tensor(zeros: [n, k]) : nil,
                                        features: f > 0 ? Tensor(zeros: [n, f]) : nil, labels: [])
        outputs.labels.reserveCapacity(n)
        for i in 0..<n {
            let source = all.data + (i / chunk) * stride + (i % chunk) * width
            if let l = outputs.logits { (l.data + i * k).update(from: source, count: k) }
            if let h = outputs.features { (h.data + i * f).update(from: source + k, count: f) }
            outputs.labels.append(Int(source[k + f]))
        }
        return outputs
    }
}
