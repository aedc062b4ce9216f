import Tensors

/// A fully connected layer `y = x · Wᵀ + b` with torchvision's layout: weight `[out, in]`, bias
/// `[out]`, both initialised uniform in ±1/sqrt(in) (PyTorch's default).
public final class Linear: Layer, WorkspaceOwner {
    public let name: String
    public let inFeatures, outFeatures: Int
    /// `[out, in]`
    public let weight: Parameter
    /// `[out]`, nil without bias.
    public let bias: Parameter?
    /// Where the time of forward and backward is charged; nil records nothing.
    let timings: LayerTimings?

    /// Kept alive with the layer: the parameters point into its arenas.
    private let store: ParameterStore
    private var output = Workspace()
    private var input: Tensor?
    private let reduction = ChannelReduction()

    /// Registers `name.weight` and, with `bias`, `name.bias`; with `timings`, forward and backward
    /// record their time there.
    public init(_ store: ParameterStore, name: String, inFeatures: Int, outFeatures: Int, bias: Bool = true,
                timings: LayerTimings? = nil) {
        precondition(inFeatures > 0 && outFeatures > 0, "Linear(\(name)): bad size \(inFeatures)->\(outFeatures)")
        self.store = store
        self.name = name; self.inFeatures = inFeatures; self.outFeatures = outFeatures
        self.timings = timings
        weight = store.parameter(qualified(name, "weight"), shape: [outFeatures, inFeatures], role: .weight,
                                 initializer: .uniformFanIn(fanIn: inFeatures))
        self.bias = bias
            ? store.parameter(qualified(name, "bias"), shape: [outFeatures], role: .bias,
                              initializer: .uniformFanIn(fanIn: inFeatures))
            : nil
    }

    var workspaceTensors: [Tensor] { output.held }

    /// x: [N, in] -> y: [N, out]
    public func forward(_ x: Tensor, mode: Mode) -> Tensor {
        precondition(x.rank == 2 && x.shape[1] == inFeatures,
                     "Linear(\(name)): expected [N, \(inFeatures)], got \(x.shape)")
        let outerKind = timings.enter(.linear)
        defer { timings.enter(outerKind) }
        input = keptForBackward(x, mode)
        let n = x.shape[0], out = outFeatures
        let y = output.output([n, out], mode: mode)
        if let bias {
            for i in 0..<n { (y.data + i * out).update(from: bias.value, count: out) }
        }
        gemm(transB: true, m: n, n: out, k: inFeatures, a: x.data, b: weight.value,
             beta: bias == nil ? 0 : 1, c: y.data)
        return y
    }

    /// dy: [N, out] -> dx: [N, in]
    public func backward(_ dy: Tensor) -> Tensor {
        guard let x = input else { preconditionFailure("Linear(\(name)): backward before forward") }
        let n = x.shape[0]
        precondition(dy.shape == [n, outFeatures], "Linear(\(name)): dy \(dy.shape) does not match [\(n), \(outFeatures)]")
        let outerKind = timings.enter(.linear)
        defer { timings.enter(outerKind) }
        // dW[out, in] += dyᵀ · x;  db += Σ_rows dy;  dx[N, in] = dy · W
        gemm(transA: true, m: outFeatures, n: inFeatures, k: n, a: dy.data, b: x.data, beta: 1, c: weight.grad)
        if let bias { reduction.addColumnSums(of: dy.data, rows: n, channels: outFeatures, into: bias.grad) }
        let dx = Tensor(pooled: x.shape)
        gemm(m: n, n: inFeatures, k: outFeatures, a: dy.data, b: weight.value, c: dx.data)
        return dx
    }
}
