import Foundation
import Tensors

/// The objective a multinomial logistic regression minimises, as L-BFGS sees it: over the flat
/// parameter vector `θ = [W: K·F row-major, b: K]` (Double),
///
///     f(θ) = 1/N Σ_n [ logsumexp(W x_n + b) − (W x_n + b)_{y_n} ] + λ/2 ‖W‖²
///     ∂f/∂W = 1/N (P − Y)ᵀ X + λ W,    ∂f/∂b = 1/N (P − Y)ᵀ 1
///
/// with `P` the row-wise softmax and `Y` the one-hot labels; the intercept is not penalised.
///
/// The two products with `X: [N, F]` run through `gemm` in Float (they are nearly all the work);
/// the per-row losses and their sum are Double. `CrossEntropyLoss` computes the same rows but
/// returns the mean as a Float, whose resolution (~6e-8 relative) is coarser than the loss changes
/// the line search must compare near the minimum, and it runs on one thread.
final class SoftmaxRegressionObjective {
    let samples: Int, features: Int, classes: Int
    let l2: Double
    private let x: Tensor                          // [N, F], borrowed
    private let labels: [Int]                      // [N]
    private let weight: Tensor                     // θ's W as Float: [K, F]
    private let logits: Tensor                     // logits, then dL/dlogits in place: [N, K]
    private let ones: Tensor                       // [N]
    private let dWeight: Tensor                    // (P − Y)ᵀ X / N: [K, F]
    private let dBias: Tensor                      // (P − Y)ᵀ 1 / N: [K]
    private let rowLoss: UnsafeMutablePointer<Double>   // [N]

    /// - Parameters:
    ///   - x: `[N, F]` features, kept by reference (not copied).
    ///   - labels: N labels in `0..<classes`, already checked.
    ///   - l2: λ ≥ 0.
    init(x: Tensor, labels: [Int], classes: Int, l2: Double) {
        precondition(x.rank == 2 && x.shape[0] == labels.count && classes >= 1,
                     "SoftmaxRegressionObjective: features \(x.shape) for \(labels.count) labels, \(classes) classes")
        samples = x.shape[0]
        features = x.shape[1]
        self.classes = classes
        self.l2 = l2
        self.x = x
        self.labels = labels
        weight = Tensor(zeros: [classes, features])
        logits = Tensor(zeros: [samples, classes])
        ones = Tensor(zeros: [samples])
        ones.fill(1)
        dWeight = Tensor(zeros: [classes, features])
        dBias = Tensor(zeros: [classes])
        rowLoss = .allocate(capacity: Swift.max(1, samples))
    }

    deinit { rowLoss.deallocate() }

    /// The number of parameters, `K·F + K`.
    var parameterCount: Int { classes * features + classes }

    /// `f(θ)`, writing `∂f/∂θ` into `gradient`.
    func evaluate(_ theta: UnsafeBufferPointer<Double>, _ gradient: UnsafeMutableBufferPointer<Double>) -> Double {
        precondition(theta.count == parameterCount && gradient.count == parameterCount,
                     "SoftmaxRegressionObjective: \(theta.count) parameters, expected \(parameterCount)")
        let n = samples, f = features, k = classes
        let th = theta.baseAddress!, gr = gradient.baseAddress!
        let w = weight.data, lp = logits.data, losses = rowLoss
        var penalty = 0.0
        for i in 0..<(k * f) {
            w[i] = Float(th[i])
            penalty += th[i] * th[i]
        }
        let bias = th + k * f

        // logits: [N, K] = X Wᵀ
        gemm(transB: true, m: n, n: k, k: f, a: x.data, b: w, c: lp)
        let scale = 1 / Float(n)
        labels.withUnsafeBufferPointer { labels in
            let y = labels.baseAddress!
            parallelFor(n, grain: 1024) { range in
                for row in range {
                    let l = lp + row * k
                    for c in 0..<k { l[c] += Float(bias[c]) }
                    var top = l[0]
                    for c in 1..<k where l[c] > top { top = l[c] }
                    let target = y[row]
                    let shiftedTarget = Double(l[target] - top)
                    var sum = 0.0
                    for c in 0..<k {
                        let e = expf(l[c] - top)
                        sum += Double(e)
                        l[c] = e
                    }
                    // logsumexp(l) − l_y = log Σ exp(l − top) − (l_y − top)
                    losses[row] = Foundation.log(sum) - shiftedTarget
                    let r = Float(1 / sum) * scale
                    for c in 0..<k { l[c] *= r }
                    l[target] -= scale
                }
            }
        }
        var total = 0.0
        for row in 0..<n { total += losses[row] }

        // dW: [K, F] = (P − Y)ᵀ X / N,  db: [K] = (P − Y)ᵀ 1 / N
        gemm(transA: true, m: k, n: f, k: n, a: lp, b: x.data, c: dWeight.data)
        gemm(transA: true, m: k, n: 1, k: n, a: lp, b: ones.data, c: dBias.data)
        let dw = dWeight.data, db = dBias.data
        for i in 0..<(k * f) { gr[i] = Double(dw[i]) + l2 * th[i] }
        for c in 0..<k { gr[k * f + c] = Double(db[c]) }
        return total / Double(n) + 0.5 * l2 * penalty
    }
}
