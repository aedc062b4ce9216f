import Tensors

/// A classifier on encoder features `[N, F]` -> logits `[N, classes]`: torchvision's `fc` (one
/// Linear) or an MLP `fc = Sequential(Linear, ReLU, Linear)` named `fc.0`, `fc.2`. With `timings`,
/// every layer records its time there.
public final class ClassifierHead: Layer, WorkspaceOwner {
    public enum Kind: Codable, Equatable, Sendable {
        case linear
        case mlp(hidden: Int)
    }

    public let kind: Kind
    public let inputDimension, classes: Int
    private let sequence: LayerSequence

    public init(_ store: ParameterStore, prefix: String = "", kind: Kind, inputDimension: Int, classes: Int,
                timings: LayerTimings? = nil) {
        precondition(inputDimension > 0 && classes > 0, "ClassifierHead: sizes must be positive")
        self.kind = kind; self.inputDimension = inputDimension; self.classes = classes
        let fc = qualified(prefix, "fc")
        switch kind {
        case .linear:
            sequence = LayerSequence([Linear(store, name: fc, inFeatures: inputDimension, outFeatures: classes,
                                             timings: timings)])
        case .mlp(let hidden):
            precondition(hidden > 0, "ClassifierHead: hidden size must be positive")
            sequence = LayerSequence([
                Linear(store, name: qualified(fc, "0"), inFeatures: inputDimension, outFeatures: hidden,
                       timings: timings),
                ReLU(timings: timings),
                Linear(store, name: qualified(fc, "2"), inFeatures: hidden, outFeatures: classes, timings: timings),
            ])
        }
    }

    var workspaceTensors: [Tensor] { sequence.workspaceTensors }
    /// Bytes held by all activation and gradient workspaces.
    public var workspaceBytes: Int { heldBytes }

    /// features: [N, inputDimension] -> logits: [N, classes]
    public func forward(_ x: Tensor, mode: Mode) -> Tensor {
        precondition(x.rank == 2 && x.shape[1] == inputDimension,
                     "ClassifierHead: expected [N, \(inputDimension)], got \(x.shape)")
        return sequence.forward(x, mode: mode)
    }

    public func backward(_ dy: Tensor) -> Tensor { sequence.backward(dy) }
}
