import Tensors

/// Stochastic gradient descent with torch.optim.SGD's semantics. With `d = g + λw`:
///
///     b ← d                              on the first step
///     b ← μ·b + (1 − dampening)·d        afterwards
///     d ← d + μ·b  (Nesterov)  or  d ← b  (μ > 0)
///     w ← w − lr·d
///
/// λ applies to every parameter when `decayAll` (torch's default), else to `role.isDecayed` ones only.
public final class SGD: Optimizer {
    public let momentum: Float
    public let dampening: Float
    public let nesterov: Bool
    public let weightDecay: Float
    public let decayAll: Bool
    public var stepCount = 0

    private let store: ParameterStore
    private let buffer: StateArena?

    /// The momentum buffers (`"<parameter>.momentum_buffer"`), empty without momentum.
    public var state: [(name: String, tensor: Tensor)] { buffer?.views ?? [] }

    public init(store: ParameterStore, momentum: Float = 0, dampening: Float = 0, nesterov: Bool = false,
                weightDecay: Float = 0, decayAll: Bool = true) throws {
        guard momentum >= 0, momentum < 1 else {
            throw OptimError.invalidHyperparameter("SGD momentum must be in [0, 1), got \(momentum)")
        }
        guard weightDecay >= 0 else {
            throw OptimError.invalidHyperparameter("SGD weight decay must be non-negative, got \(weightDecay)")
        }
        guard !nesterov || (momentum > 0 && dampening == 0) else {
            throw OptimError.invalidHyperparameter("SGD Nesterov momentum needs momentum > 0 and dampening 0")
        }
        self.store = store
        self.momentum = momentum
        self.dampening = dampening
        self.nesterov = nesterov
        self.weightDecay = weightDecay
        self.decayAll = decayAll
        buffer = momentum > 0 ? StateArena(store, kind: "momentum_buffer") : nil
    }

    public func step(lr: Float) {
        let mu = momentum, nesterov = nesterov
        // torch creates the buffer from the first gradient, undamped.
        let carry = stepCount == 0 ? 0 : momentum
        let keep = stepCount == 0 ? 1 : 1 - dampening
        for p in store.parameters {
            let lambda = decayAll || p.role.isDecayed ? weightDecay : 0
            let w = p.value!, g = p.grad!, b = buffer?.data(p)
            parallelFor(p.count, grain: updateGrain) { range in
                for i in range {
                    var d = g[i] + lambda * w[i]
                    if let b {
                        let v = carry * b[i] + keep * d
                        b[i] = v
                        d = nesterov ? d + mu * v : v
                    }
                    w[i] -= lr * d
                }
            }
        }
        stepCount += 1
    }
}
