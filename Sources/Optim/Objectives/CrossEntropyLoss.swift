import Foundation
import Tensors

/// Softmax cross-entropy over `logits: [N, K]` and integer labels in `0..<K`, averaged over the N
/// rows, with torch's label smoothing: the target is `(1 − ε)·onehot(y) + ε/K`, so
///
///     loss_n = logsumexp(l_n) − (1 − ε)·l_{n,y_n} − (ε/K)·Σ_k l_{n,k}
///     dL/dl_{n,k} = (softmax(l_n)_k − (1 − ε)·[k = y_n] − ε/K) / N
///
/// (`torch.nn.functional.cross_entropy(logits, y, label_smoothing: ε)`).
public struct CrossEntropyLoss: Sendable {
    /// ε in `[0, 1]`.
    public let labelSmoothing: Float

    public init(labelSmoothing: Float = 0) throws {
        guard labelSmoothing >= 0, labelSmoothing <= 1 else {
            throw OptimError.invalidHyperparameter("label smoothing must be in [0, 1], got \(labelSmoothing)")
        }
        self.labelSmoothing = labelSmoothing
    }

    /// The mean loss, without the gradient.
    public func loss(logits: Tensor, labels: [Int]) -> Float {
        run(logits, labels, dLogits: nil)
    }

    /// The mean loss, writing its gradient into `dLogits: [N, K]` (overwritten, not accumulated).
    public func lossAndGradient(logits: Tensor, labels: [Int], dLogits: Tensor) -> Float {
        precondition(dLogits.shape == logits.shape,
                     "CrossEntropyLoss: dLogits \(dLogits.shape) does not match logits \(logits.shape)")
        return run(logits, labels, dLogits: dLogits)
    }

    private func run(_ logits: Tensor, _ labels: [Int], dLogits: Tensor?) -> Float {
        precondition(logits.rank == 2 && logits.shape[0] == labels.count && logits.shape[1] > 0,
                     "CrossEntropyLoss: logits \(logits.shape) for \(labels.count) labels")
        let n = logits.shape[0], k = logits.shape[1]
        let smoothing = labelSmoothing, uniform = labelSmoothing / Float(k)
        let scale = 1 / Float(n)
        let lp = logits.data, dp = dLogits?.data
        var total: Double = 0
        labels.withUnsafeBufferPointer { labels in
            for row in 0..<n {
                let y = labels[row]
                precondition(y >= 0 && y < k, "CrossEntropyLoss: label \(y) outside 0..<\(k)")
                let l = lp + row * k
                var maxL = l[0]
                for c in 1..<k where l[c] > maxL { maxL = l[c] }
                var sum: Double = 0, sumL: Double = 0
                for c in 0..<k {
                    sum += Double(expf(l[c] - maxL))
                    sumL += Double(l[c])
                }
                let lse = Double(maxL) + Foundation.log(sum)
                total += lse - Double(1 - smoothing) * Double(l[y]) - Double(uniform) * sumL
                if let dp {
                    let g = dp + row * k
                    let r = Float(1 / sum)
                    for c in 0..<k { g[c] = (expf(l[c] - maxL) * r - uniform) * scale }
                    g[y] -= (1 - smoothing) * scale
                }
            }
        }
        return Float(total / Double(n))
    }

    /// How many rows of `logits: [N, K]` have their label among the `k` highest logits. A label
    /// tied with the k-th logit counts as a hit (fewer than `k` logits strictly exceed it).
    public static func correctCount(logits: Tensor, labels: [Int], k: Int = 1) -> Int {
        precondition(logits.rank == 2 && logits.shape[0] == labels.count && k >= 1,
                     "CrossEntropyLoss.correctCount: logits \(logits.shape) for \(labels.count) labels, k \(k)")
        let classes = logits.shape[1], lp = logits.data
        var hits = 0
        for (row, y) in labels.enumerated() {
            precondition(y >= 0 && y < classes, "CrossEntropyLoss.correctCount: label \(y) outside 0..<\(classes)")
            let l = lp + row * classes
            let target = l[y]
            var above = 0
            for c in 0..<classes where l[c] > target { above += 1 }
            if above < k { hits += 1 }
        }
        return hits
    }

    /// The highest-scoring class of each row of `logits: [N, K]` (the lowest index among ties).
    public static func predictions(logits: Tensor) -> [Int] {
        precondition(logits.rank == 2 && logits.shape[1] > 0,
                     "CrossEntropyLoss.predictions: logits must be [N, K], got \(logits.shape)")
        let n = logits.shape[0], classes = logits.shape[1], lp = logits.data
        return (0..<n).map { row in
            let l = lp + row * classes
            var best = 0
            for c in 1..<classes where l[c] > l[best] { best = c }
            return best
        }
    }
}
