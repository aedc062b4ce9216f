import Tensors

/// SimCLR's projection head g: an MLP from encoder features h `[N, F]` to z `[N, D]`.
///
/// `layers` Linear layers (2 as SimCLR v1, 3 as v2) with ReLU between them; with `batchNorm`, each
/// hidden Linear (then without bias) is followed by BatchNorm, and with `outputBatchNorm` the last
/// one is followed by a BatchNorm without affine parameters (SimCLR v2, lightly). Parameters are
/// named as the matching `nn.Sequential` would be: Linear, [BN], ReLU, Linear, ... indexed from 0
/// (`prefix.0.weight`, `prefix.1.weight` for a BN, `prefix.3.weight`, ...). With `timings`, every
/// layer records its time there.
public final class ProjectionHead: Layer, WorkspaceOwner {
    public let inputDimension, hiddenDimension, outputDimension: Int
    private let sequence: LayerSequence

    public init(_ store: ParameterStore, prefix: String = "", inputDimension: Int, hiddenDimension: Int,
                outputDimension: Int, layers: Int = 2, batchNorm: Bool = false, outputBatchNorm: Bool = false,
                timings: LayerTimings? = nil) {
        precondition(layers >= 2 && inputDimension > 0 && hiddenDimension > 0 && outputDimension > 0,
                     "ProjectionHead: needs at least 2 layers and positive sizes")
        self.inputDimension = inputDimension; self.hiddenDimension = hiddenDimension
        self.outputDimension = outputDimension
        var modules: [any Layer] = []
        var index = 0
        func name() -> String {
            defer { index += 1 }
            return qualified(prefix, String(index))
        }
        for i in 0..<layers {
            let last = i == layers - 1
            let normalised = last ? outputBatchNorm : batchNorm
            let width = last ? outputDimension : hiddenDimension
            modules.append(Linear(store, name: name(), inFeatures: i == 0 ? inputDimension : hiddenDimension,
                                  outFeatures: width, bias: !normalised, timings: timings))
            if normalised {
                // The ReLU after a hidden BN is fused into it but keeps its index in the names.
                modules.append(BatchNorm(store, name: name(), channels: width, affine: !last, fusedReLU: !last,
                                         timings: timings))
                if !last { index += 1 }
            } else if !last {
                index += 1
                modules.append(ReLU(timings: timings))
            }
        }
        sequence = LayerSequence(modules)
    }

    /// Every BatchNorm layer (for reducers and mode checks).
    public var batchNorms: [BatchNorm] { sequence.batchNorms }
    var workspaceTensors: [Tensor] { sequence.workspaceTensors }
    /// Bytes held by all activation and gradient workspaces.
    public var workspaceBytes: Int { heldBytes }

    /// h: [N, inputDimension] -> z: [N, outputDimension]
    public func forward(_ x: Tensor, mode: Mode) -> Tensor {
        precondition(x.rank == 2 && x.shape[1] == inputDimension,
                     "ProjectionHead: expected [N, \(inputDimension)], got \(x.shape)")
        return sequence.forward(x, mode: mode)
    }

    public func backward(_ dy: Tensor) -> Tensor { sequence.backward(dy) }
}
