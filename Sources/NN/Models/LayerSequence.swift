import Tensors

/// Layers applied one after another (torch's `nn.Sequential`), backward in reverse order.
final class LayerSequence: WorkspaceOwner {
    let layers: [any Layer]

    init(_ layers: [any Layer]) { self.layers = layers }

    var batchNorms: [BatchNorm] { layers.compactMap { $0 as? BatchNorm } }
    var workspaceTensors: [Tensor] { layers.flatMap { ($0 as? WorkspaceOwner)?.workspaceTensors ?? [] } }

    func forward(_ x: Tensor, mode: Mode) -> Tensor {
        layers.reduce(x) { $1.forward($0, mode: mode) }
    }

    func backward(_ dy: Tensor) -> Tensor {
        layers.reversed().reduce(dy) { $1.backward($0) }
    }
}
