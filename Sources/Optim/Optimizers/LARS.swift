import Tensors

/// Layer-wise adaptive rate scaling (You et al. 2017) as in SimCLR's reference implementation
/// (`lars_optimizer.py`). For each parameter tensor w with gradient g, momentum buffer v, momentum μ,
/// weight decay λ and trust coefficient η:
///
///     u     = g + λ·w
///     trust = η·‖w‖ / ‖u‖   if ‖w‖ > 0 and ‖u‖ > 0, else 1
///     v     ← μ·v + lr·trust·u
///     w     ← w − v                      (Nesterov: w ← w − (μ·v + lr·trust·u))
///
/// Parameters with `role.isDecayed == false` (biases, BatchNorm weights and biases) get neither the
/// decay nor the trust ratio (λ = 0, trust = 1: plain momentum SGD), as SimCLR excludes them by
/// name; `decayAll` applies both to every parameter instead.
public final class LARS: Optimizer {
    public let momentum: Float
    public let weightDecay: Float
    public let trustCoefficient: Float
    public let nesterov: Bool
    public let decayAll: Bool
    public var stepCount = 0

    private let store: ParameterStore
    private let velocity: StateArena

    /// The momentum buffers, `"<parameter>.momentum"`.
    public var state: [(name: String, tensor: Tensor)] { velocity.views }

    /// SimCLR's defaults: μ = 0.9, λ = 1e-6, η = 0.001.
    public init(store: ParameterStore, momentum: Float = 0.9, weightDecay: Float = 1e-6,
                trustCoefficient: Float = 0.001, nesterov: Bool = false, decayAll: Bool = false) throws {
        guard momentum >= 0, momentum < 1 else {
            throw OptimError.invalidHyperparameter("LARS momentum must be in [0, 1), got \(momentum)")
        }
        guard weightDecay >= 0 else {
            throw OptimError.invalidHyperparameter("LARS weight decay must be non-negative, got \(weightDecay)")
        }
        guard trustCoefficient > 0 else {
            throw OptimError.invalidHyperparameter("LARS trust coefficient must be positive, got \(trustCoefficient)")
        }
        self.store = store
        self.momentum = momentum
        self.weightDecay = weightDecay
        self.trustCoefficient = trustCoefficient
        self.nesterov = nesterov
        self.decayAll = decayAll
        velocity = StateArena(store, kind: "momentum")
    }

    public func step(lr: Float) {
        let mu = momentum, nesterov = nesterov
        for p in store.parameters {
            let adapted = decayAll || p.role.isDecayed
            let lambda = adapted ? weightDecay : 0
            let w = p.value!, g = p.grad!, v = velocity.data(p), n = p.count
            var scaledLR = lr
            if adapted {
                let wNorm = norm2(n, w)
                let uNorm = Float(sumOfSquares(n, g, plus: lambda, times: w).squareRoot())
                if wNorm > 0 && uNorm > 0 { scaledLR = lr * trustCoefficient * wNorm / uNorm }
            }
            parallelFor(n, grain: updateGrain) { range in
                for i in range {
                    let u = g[i] + lambda * w[i]
                    let vi = mu * v[i] + scaledLR * u
                    v[i] = vi
                    w[i] -= nesterov ? mu * vi + scaledLR * u : vi
                }
            }
        }
        stepCount += 1
    }
}

/// `Σ (g_i + λ·w_i)²` over `n` elements: SIMD8 partial sums over blocks, added in Double so that
/// millions of elements lose no precision.
private func sumOfSquares(_ n: Int, _ g: UnsafePointer<Float>, plus lambda: Float,
                          times w: UnsafePointer<Float>) -> Double {
    let block = 4096
    var total: Double = 0
    var start = 0
    while start < n {
        let end = Swift.min(n, start + block)
        var acc = SIMD8<Float>.zero
        var i = start
        while i + 8 <= end {
            let gv = UnsafeRawPointer(g + i).loadUnaligned(as: SIMD8<Float>.self)
            let wv = UnsafeRawPointer(w + i).loadUnaligned(as: SIMD8<Float>.self)
            let u = gv + lambda * wv
            acc += u * u
            i += 8
        }
        var partial = Double(acc.sum())
        while i < end {
            let u = g[i] + lambda * w[i]
            partial += Double(u * u)
            i += 1
        }
        total += partial
        start = end
    }
    return total
}
