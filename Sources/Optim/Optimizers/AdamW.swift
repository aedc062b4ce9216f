import Tensors

/// AdamW (Loshchilov & Hutter 2019) with torch.optim.AdamW's semantics and defaults: `Adam` with the
/// weight decay decoupled from the gradient, `w ← w·(1 − lr·λ)` before the Adam update.
public final class AdamW: Optimizer {
    private let adam: Adam

    public init(store: ParameterStore, beta1: Float = 0.9, beta2: Float = 0.999, eps: Float = 1e-8,
                weightDecay: Float = 0.01, decayAll: Bool = true) throws {
        adam = try Adam(store: store, beta1: beta1, beta2: beta2, eps: eps, weightDecay: weightDecay,
                        decoupledWeightDecay: true, decayAll: decayAll)
    }

    public var stepCount: Int {
        get { adam.stepCount }
        set { adam.stepCount = newValue }
    }

    public var state: [(name: String, tensor: Tensor)] { adam.state }

    public func step(lr: Float) { adam.step(lr: lr) }
}
