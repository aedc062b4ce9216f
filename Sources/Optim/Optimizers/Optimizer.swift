import Tensors

/// One update rule over every parameter of a finalised `ParameterStore`, reading the gradient arena
/// and writing the value arena in place.
///
/// The step does not zero the gradients (the trainer calls `store.zeroGrad()`), and it does the same
/// arithmetic on every rank, so ranks that all-reduced the same gradients stay identical.
public protocol Optimizer: AnyObject {
    /// Steps taken so far; saved and restored with `state`.
    var stepCount: Int { get set }

    /// The optimiser's state as named tensors (`"<parameter>.<kind>"`, internal parameter shapes),
    /// views into its arenas: a checkpoint saves them, and restores them by copying into them.
    var state: [(name: String, tensor: Tensor)] { get }

    /// Applies one update with learning rate `lr`.
    func step(lr: Float)
}

/// Elements per parallel chunk of an element-wise update: large enough to pay for a thread hop.
let updateGrain = 1 << 15

/// One float of optimiser state per parameter element, in one allocation laid out like the
/// store's arenas, with a named view per parameter.
struct StateArena {
    let storage: Tensor                         // [store.count]
    let views: [(name: String, tensor: Tensor)]

    init(_ store: ParameterStore, kind: String) {
        precondition(store.isFinal, "optimiser state for \(kind): finalize the ParameterStore first")
        let storage = Tensor(zeros: [store.count])
        self.storage = storage
        views = store.parameters.map {
            (name: "\($0.name).\(kind)", tensor: Tensor(viewing: storage.data + $0.offset, shape: $0.shape))
        }
    }

    /// The state of parameter `p`.
    func data(_ p: Parameter) -> UnsafeMutablePointer<Float> { storage.data + p.offset }
}
