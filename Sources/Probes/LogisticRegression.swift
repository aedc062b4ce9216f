import Foundation
import Optim
import Tensors

/// Multinomial logistic regression on cached features (the linear-evaluation probe), fitted by
/// L-BFGS like scikit-learn's `LogisticRegression(solver="lbfgs")`. It minimises
///
///     1/N Σ_n CE(W x̃_n + b, y_n) + λ/2 ‖W‖²
///
/// over `W: [K, F]` and `b: [K]`; the intercept is not penalised. `x̃` is `x` or, with
/// `standardize`, `(x − mean) / std` with the mean and population standard deviation of the
/// training features (scikit-learn's `StandardScaler`; a constant feature gets std 1).
///
/// scikit-learn's `C` maps to `λ = 1/(C·N)`: its lbfgs objective is the mean loss plus
/// `‖W‖²/(2·C·N)`. So `.inverseStrength(C)` and `.weightDecay(1/(C·N))` fit the same model, and
/// for K ≥ 3 classes the minimum equals scikit-learn's. With K = 2, scikit-learn fits one binomial
/// weight vector `v` whereas this model keeps two softmax rows, which settle at `±v/2` and so pay
/// half the penalty: `.inverseStrength(C)` here is scikit-learn's binary model with `2·C` (same
/// predictions, probabilities and objective value).
///
/// After `fit`, `weight` and `bias` act on the raw features: the standardisation is folded into
/// them (`W/std`, `b − (W/std)·mean`), so they are the `fc.weight` / `fc.bias` of an equivalent
/// linear layer, and `predict`/`score` use exactly them. The mean and std stay in `featureMean` and
/// `featureStd` for the record.
///
/// Memory: with `standardize`, `fit` makes one standardised copy of the features; the objective
/// adds `[N, K]` logits. Not thread-safe.
public final class LogisticRegression {
    /// How strongly `W` is pulled to zero.
    public enum Regularization: Sendable, Equatable {
        /// scikit-learn's `C > 0`: λ = 1/(C·N).
        case inverseStrength(Double)
        /// λ ≥ 0 on the mean loss, as an optimiser's weight decay.
        case weightDecay(Double)

        /// λ for a training set of `samples` rows.
        public func lambda(samples: Int) -> Double {
            switch self {
            case .inverseStrength(let c): return 1 / (c * Double(samples))
            case .weightDecay(let lambda): return lambda
            }
        }
    }

    public let regularization: Regularization
    public let standardize: Bool
    public let solver: LBFGS

    /// The fitted classifier on raw features, standardisation folded in: `[K, F]`.
    public private(set) var weight = Tensor(zeros: [0, 0])
    /// `[K]`.
    public private(set) var bias = Tensor(zeros: [0])
    /// The training features' per-feature mean, with `standardize`: `[F]`.
    public private(set) var featureMean: [Float]?
    /// The training features' per-feature population standard deviation (1 where it is 0), with
    /// `standardize`: `[F]`.
    public private(set) var featureStd: [Float]?
    /// The objective's value at the fitted parameters (in the standardised space when standardising).
    public private(set) var objective: Double = .nan
    /// What L-BFGS did in the last `fit`.
    public private(set) var report: LBFGS.Report?

    public var isFitted: Bool { report != nil }
    /// K, once fitted.
    public var classes: Int { bias.count }

    /// - Parameters:
    ///   - regularization: scikit-learn's default is `.inverseStrength(1)`.
    ///   - standardize: standardise features with the training set's mean and std first.
    ///   - solver: L-BFGS settings; the default allows scikit-learn's `max_iter=1000`.
    public init(regularization: Regularization = .inverseStrength(1), standardize: Bool = false,
                solver: LBFGS? = nil) throws {
        switch regularization {
        case .inverseStrength(let c):
            guard c > 0, c.isFinite else {
                throw OptimError.invalidHyperparameter("logistic regression C must be positive, got \(c)")
            }
        case .weightDecay(let lambda):
            guard lambda >= 0, lambda.isFinite else {
                throw OptimError.invalidHyperparameter("logistic regression weight decay must not be negative, got \(lambda)")
            }
        }
        self.regularization = regularization
        self.standardize = standardize
        self.solver = try solver ?? LBFGS(maxIterations: 1000)
    }

    /// Fits the model to `features: [N, F]` and `labels` in `0..<classes`, starting from zero.
    @discardableResult
    public func fit(features: Tensor, labels: [Int], classes: Int) throws -> LBFGS.Report {
        precondition(features.rank == 2 && features.shape[0] == labels.count,
                     "LogisticRegression.fit: features \(features.shape) for \(labels.count) labels")
        let n = features.shape[0], f = features.shape[1]
        guard n > 0 else { throw ProbeError.invalidData("logistic regression: no training samples") }
        guard classes >= 2 else {
            throw ProbeError.invalidData("logistic regression needs at least 2 classes, got \(classes)")
        }
        try checkLabels(labels, classes: classes, probe: "logistic regression")
        try checkFinite(features, probe: "logistic regression")

        var x = features
        var mean = [Double](repeating: 0, count: f), std = [Double](repeating: 1, count: f)
        if standardize {
            (mean, std) = Self.moments(features)
            x = Self.standardized(features, mean: mean, std: std)
        }
        let problem = SoftmaxRegressionObjective(x: x, labels: labels, classes: classes,
                                                 l2: regularization.lambda(samples: n))
        var theta = [Double](repeating: 0, count: problem.parameterCount)
        let result = solver.minimize(&theta) { problem.evaluate($0, $1) }

        // Fold the standardisation into the layer: W x̃ + b = (W/std) x + (b − (W/std)·mean).
        let w = Tensor(zeros: [classes, f]), b = Tensor(zeros: [classes])
        for k in 0..<classes {
            var shift = 0.0
            for j in 0..<f {
                let folded = theta[k * f + j] / std[j]
                w[k * f + j] = Float(folded)
                shift += folded * mean[j]
            }
            b[k] = Float(theta[classes * f + k] - shift)
        }
        weight = w
        bias = b
        featureMean = standardize ? mean.map { Float($0) } : nil
        featureStd = standardize ? std.map { Float($0) } : nil
        objective = result.loss
        report = result
        return result
    }

    /// The logits `W x + b` of `features: [N, F]`: `[N, K]`.
    public func decisionFunction(features: Tensor) -> Tensor {
        precondition(isFitted, "LogisticRegression: call fit first")
        precondition(features.rank == 2 && features.shape[1] == weight.shape[1],
                     "LogisticRegression: features \(features.shape) for a model of \(weight.shape[1]) features")
        let n = features.shape[0], k = classes, f = weight.shape[1]
        let logits = Tensor(zeros: [n, k])
        // logits: [N, K] = X Wᵀ + b
        let lp = logits.data, bp = bias.data
        for row in 0..<n { (lp + row * k).update(from: bp, count: k) }
        gemm(transB: true, m: n, n: k, k: f, a: features.data, b: weight.data, beta: 1, c: lp)
        return logits
    }

    /// The softmax probabilities of `features: [N, F]`: `[N, K]`, rows summing to 1.
    public func predictProbabilities(features: Tensor) -> Tensor {
        let p = decisionFunction(features: features)
        let k = classes, pp = p.data
        parallelFor(p.shape[0], grain: 1024) { range in
            for row in range {
                let l = pp + row * k
                var top = l[0]
                for c in 1..<k where l[c] > top { top = l[c] }
                var sum: Float = 0
                for c in 0..<k {
                    l[c] = expf(l[c] - top)
                    sum += l[c]
                }
                let r = 1 / sum
                for c in 0..<k { l[c] *= r }
            }
        }
        return p
    }

    /// The most probable class of each row of `features: [N, F]` (the lower index among ties).
    public func predict(features: Tensor) -> [Int] {
        CrossEntropyLoss.predictions(logits: decisionFunction(features: features))
    }

    /// The fraction of rows of `features: [N, F]` whose prediction is their label.
    public func score(features: Tensor, labels: [Int]) throws -> Double {
        precondition(features.rank == 2 && features.shape[0] == labels.count,
                     "LogisticRegression.score: features \(features.shape) for \(labels.count) labels")
        guard !labels.isEmpty else { throw ProbeError.invalidData("logistic regression: no samples to score") }
        try checkLabels(labels, classes: classes, probe: "logistic regression")
        let hits = CrossEntropyLoss.correctCount(logits: decisionFunction(features: features), labels: labels, k: 1)
        return Double(hits) / Double(labels.count)
    }

    /// Per-feature mean and population standard deviation of `x: [N, F]` in Double (two passes,
    /// so a large mean does not swamp a small spread); a zero deviation becomes 1.
    static func moments(_ x: Tensor) -> (mean: [Double], std: [Double]) {
        let n = x.shape[0], f = x.shape[1], xp = x.data
        var mean = [Double](repeating: 0, count: f), variance = [Double](repeating: 0, count: f)
        mean.withUnsafeMutableBufferPointer { m in
            variance.withUnsafeMutableBufferPointer { v in
                for row in 0..<n {
                    let r = xp + row * f
                    for j in 0..<f { m[j] += Double(r[j]) }
                }
                for j in 0..<f { m[j] /= Double(n) }
                for row in 0..<n {
                    let r = xp + row * f
                    for j in 0..<f {
                        let d = Double(r[j]) - m[j]
                        v[j] += d * d
                    }
                }
            }
        }
        let std = variance.map { v -> Double in
            let s = (v / Double(n)).squareRoot()
            return s > 0 ? s : 1
        }
        return (mean, std)
    }

    /// `(x − mean) / std` row by row: a new `[N, F]` tensor.
    static func standardized(_ x: Tensor, mean: [Double], std: [Double]) -> Tensor {
        let n = x.shape[0], f = x.shape[1]
        let out = Tensor(zeros: [n, f])
        let shift = mean.map { Float($0) }, scale = std.map { Float(1 / $0) }
        let xp = x.data, op = out.data
        shift.withUnsafeBufferPointer { shift in
            scale.withUnsafeBufferPointer { scale in
                let sp = shift.baseAddress!, cp = scale.baseAddress!
                parallelFor(n, grain: Swift.max(1, 65536 / Swift.max(1, f))) { range in
                    for row in range {
                        let r = xp + row * f, o = op + row * f
                        for j in 0..<f { o[j] = (r[j] - sp[j]) * cp[j] }
                    }
                }
            }
        }
        return out
    }
}
