import Tensors

/// Whether a network is being trained or evaluated. Passed explicitly to every forward pass
/// (no global "learning phase"): BatchNorm normalises with batch statistics and updates its
/// running statistics only in `.training`.
public enum Mode: Sendable {
    case training, evaluation
    /// Evaluation with no backward pass to follow (features, predictions, the forward benchmark).
    /// Layers keep nothing for a backward pass and take their outputs from `TensorPool` instead
    /// of their own workspaces, so an activation's memory goes back to the pool as soon as the
    /// layers after it are done with it: a forward pass holds a few activations at a time instead
    /// of all of them, as PyTorch's does under `no_grad`.
    case inference
}

/// A differentiable piece of a network over channels-last tensors.
///
/// `forward` keeps what `backward` needs (a reference to its input, its own output) and
/// `backward` adds (`+=`) into the parameter gradients (`p.grad`) and returns the gradient with
/// respect to the input. Backward is valid after a forward in `.training` or `.evaluation` (not
/// `.inference`, which keeps nothing); it must follow the forward it differentiates, with the input
/// of that forward left unmodified in between.
///
/// Outputs and gradients live in the layer's own workspaces, reused from step to step: a returned
/// tensor is valid until that layer's next `forward` (for outputs) or `backward` (for gradients).
/// An `.inference` output is a pooled tensor of its own, valid for as long as it is held.
public protocol Layer: AnyObject {
    func forward(_ x: Tensor, mode: Mode) -> Tensor
    func backward(_ dy: Tensor) -> Tensor
}

/// Something that owns workspaces; lets tests and memory reports see every buffer a step uses.
protocol WorkspaceOwner {
    /// The tensors currently held by this object's workspaces (and its children's).
    var workspaceTensors: [Tensor] { get }
}

extension Workspace {
    /// The tensor currently held, as a list (empty before first use).
    var held: [Tensor] { tensor.map { [$0] } ?? [] }

    /// A forward pass's output of `shape`: this workspace's buffer, or in `.inference` a pooled
    /// tensor that goes back to the pool when its last user lets it go.
    mutating func output(_ shape: [Int], mode: Mode) -> Tensor {
        mode == .inference ? Tensor(pooled: shape) : get(shape)
    }
}

/// What a forward pass in `mode` keeps for backward: `value`, or nothing in `.inference`.
func keptForBackward<T>(_ value: T, _ mode: Mode) -> T? {
    mode == .inference ? nil : value
}

/// `prefix.name`, or `name` alone when there is no prefix (torchvision's dotted names).
func qualified(_ prefix: String, _ name: String) -> String {
    prefix.isEmpty ? name : prefix + "." + name
}

extension WorkspaceOwner {
    /// Bytes held by the workspaces (they stop growing after the first step).
    var heldBytes: Int { workspaceTensors.reduce(0) { $0 + $1.capacity * MemoryLayout<Float>.size } }
}
