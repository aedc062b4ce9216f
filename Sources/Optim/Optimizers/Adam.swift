import Foundation
import Tensors

/// Adam (Kingma & Ba 2015) with torch.optim.Adam's semantics, or torch.optim.AdamW's when the weight
/// decay is decoupled (see `AdamW`). At step t (from 1):
///
///     g ← g + λw                     (L2, Adam)      or   w ← w·(1 − lr·λ)   (decoupled, AdamW)
///     m ← β1·m + (1 − β1)·g
///     v ← β2·v + (1 − β2)·g²
///     w ← w − (lr / (1 − β1^t)) · m / (sqrt(v) / sqrt(1 − β2^t) + eps)
///
/// λ applies to every parameter when `decayAll` (torch's default), else to `role.isDecayed` ones only.
public final class Adam: Optimizer {
    public let beta1: Float
    public let beta2: Float
    public let eps: Float
    public let weightDecay: Float
    public let decoupledWeightDecay: Bool
    public let decayAll: Bool
    public var stepCount = 0

    private let store: ParameterStore
    private let firstMoment: StateArena
    private let secondMoment: StateArena

    /// `"<parameter>.exp_avg"` then `"<parameter>.exp_avg_sq"` for every parameter.
    public var state: [(name: String, tensor: Tensor)] { firstMoment.views + secondMoment.views }

    public init(store: ParameterStore, beta1: Float = 0.9, beta2: Float = 0.999, eps: Float = 1e-8,
                weightDecay: Float = 0, decoupledWeightDecay: Bool = false, decayAll: Bool = true) throws {
        guard beta1 >= 0, beta1 < 1, beta2 >= 0, beta2 < 1 else {
            throw OptimError.invalidHyperparameter("Adam betas must be in [0, 1), got (\(beta1), \(beta2))")
        }
        guard eps >= 0 else { throw OptimError.invalidHyperparameter("Adam eps must be non-negative, got \(eps)") }
        guard weightDecay >= 0 else {
            throw OptimError.invalidHyperparameter("Adam weight decay must be non-negative, got \(weightDecay)")
        }
        self.store = store
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        self.weightDecay = weightDecay
        self.decoupledWeightDecay = decoupledWeightDecay
        self.decayAll = decayAll
        firstMoment = StateArena(store, kind: "exp_avg")
        secondMoment = StateArena(store, kind: "exp_avg_sq")
    }

    public func step(lr: Float) {
        stepCount += 1
        let t = Double(stepCount)
        let stepSize = Float(Double(lr) / (1 - pow(Double(beta1), t)))
        let sqrtCorrection2 = Float((1 - pow(Double(beta2), t)).squareRoot())
        let b1 = beta1, b2 = beta2, eps = eps, decoupled = decoupledWeightDecay
        for p in store.parameters {
            let lambda = decayAll || p.role.isDecayed ? weightDecay : 0
            let shrink = 1 - lr * lambda
            let w = p.value!, g = p.grad!, m = firstMoment.data(p), v = secondMoment.data(p)
            parallelFor(p.count, grain: updateGrain) { range in
                for i in range {
                    var gi = g[i]
                    if decoupled { w[i] *= shrink } else { gi += lambda * w[i] }
                    let mi = b1 * m[i] + (1 - b1) * gi
                    let vi = b2 * v[i] + (1 - b2) * gi * gi
                    m[i] = mi
                    v[i] = vi
                    w[i] -= stepSize * mi / (vi.squareRoot() / sqrtCorrection2 + eps)
                }
            }
        }
    }
}
