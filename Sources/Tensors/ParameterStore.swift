/// What a parameter is, which decides how optimisers treat it: LARS and weight decay skip biases
/// and normalisation parameters, as in the SimCLR paper.
public enum ParameterRole: String, Sendable {
    case weight, bias, normWeight, normBias

    /// Whether weight decay and LARS adaptation apply.
    public var isDecayed: Bool { self == .weight }
}

/// How a parameter starts, applied when the store is finalised.
public enum ParameterInit: Sendable {
    case zeros, ones
    /// Kaiming normal, fan-out, ReLU gain (torchvision's ResNet convolutions).
    case kaimingNormalFanOut(fanOut: Int)
    /// Uniform in ±1/sqrt(fanIn) (PyTorch's default for Linear weights and biases, Kaiming-uniform with a=sqrt(5)).
    case uniformFanIn(fanIn: Int)
}

/// How the internal layout maps to torchvision's, for checkpoints.
public enum ParameterLayout: Sendable {
    case plain
    /// Stored `[Cout, kh, kw, Cin]`, torchvision's is `[Cout, Cin, kh, kw]`.
    case convOHWI
}

/// One trainable tensor: a named slice of the store's value arena and the same slice of its
/// gradient arena.
public final class Parameter {
    public let name: String
    /// Internal shape (convolution weights are `[Cout, kh, kw, Cin]`).
    public let shape: [Int]
    public let role: ParameterRole
    public let layout: ParameterLayout
    let initializer: ParameterInit
    public fileprivate(set) var offset = 0
    public fileprivate(set) var value: UnsafeMutablePointer<Float>!
    public fileprivate(set) var grad: UnsafeMutablePointer<Float>!

    public var count: Int { shape.reduce(1, *) }

    init(name: String, shape: [Int], role: ParameterRole, layout: ParameterLayout, initializer: ParameterInit) {
        self.name = name; self.shape = shape; self.role = role; self.layout = layout
        self.initializer = initializer
    }

    /// torchvision's shape of this tensor.
    public var exportShape: [Int] {
        switch layout {
        case .plain: return shape
        case .convOHWI: return [shape[0], shape[3], shape[1], shape[2]]
        }
    }
}

/// A named non-trainable tensor saved with the model (BatchNorm running statistics and counters).
public final class Buffer {
    public let name: String
    public let tensor: Tensor
    init(name: String, tensor: Tensor) { self.name = name; self.tensor = tensor }
}

/// All parameters of a model in one allocation, and all their gradients in another, so that an
/// optimiser step is one pass and a gradient all-reduce is one call.
///
/// Layers register parameters while the model is built; `finalize(seed:)` then allocates both arenas
/// and initialises every parameter. No parameter may be registered after that.
public final class ParameterStore {
    public private(set) var parameters: [Parameter] = []
    public private(set) var buffers: [Buffer] = []
    public private(set) var values: UnsafeMutablePointer<Float>!
    public private(set) var grads: UnsafeMutablePointer<Float>!
    public private(set) var count = 0
    public private(set) var isFinal = false

    public init() {}

    deinit {
        values?.deallocate()
        grads?.deallocate()
    }

    /// Registers a parameter; its pointers are valid after `finalize`.
    public func parameter(_ name: String, shape: [Int], role: ParameterRole,
                          layout: ParameterLayout = .plain, initializer: ParameterInit) -> Parameter {
        precondition(!isFinal, "ParameterStore: \(name) registered after finalize")
        precondition(!parameters.contains { $0.name == name }, "ParameterStore: duplicate name \(name)")
        let p = Parameter(name: name, shape: shape, role: role, layout: layout, initializer: initializer)
        p.offset = count
        count += p.count
        parameters.append(p)
        return p
    }

    /// Registers a buffer (a tensor saved with the model but not trained).
    public func buffer(_ name: String, shape: [Int], value: Float) -> Tensor {
        precondition(!buffers.contains { $0.name == name }, "ParameterStore: duplicate buffer \(name)")
        let t = Tensor(zeros: shape)
        t.fill(value)
        buffers.append(Buffer(name: name, tensor: t))
        return t
    }

    /// Allocates the arenas and initialises each parameter from its own random stream (keyed by
    /// the seed and the parameter's position), so initial weights do not depend on thread timing.
    public func finalize(seed: UInt64) {
        precondition(!isFinal, "ParameterStore: finalize called twice")
        isFinal = true
        let n = Swift.max(count, 1)
        values = allocateFloats(n)
        values.initialize(repeating: 0, count: n)
        grads = allocateFloats(n)
        grads.initialize(repeating: 0, count: n)
        for (i, p) in parameters.enumerated() {
            p.value = values + p.offset
            p.grad = grads + p.offset
            var rng = RandomStream(seed: seed, epoch: -1, index: i, view: 0)
            initialize(p, &rng)
        }
    }

    private func initialize(_ p: Parameter, _ rng: inout RandomStream) {
        let v = p.value!
        switch p.initializer {
        case .zeros: v.update(repeating: 0, count: p.count)
        case .ones: v.update(repeating: 1, count: p.count)
        case .kaimingNormalFanOut(let fanOut):
            let std = (2 / Float(fanOut)).squareRoot()
            for i in 0..<p.count { v[i] = std * rng.normal() }
        case .uniformFanIn(let fanIn):
            let bound = 1 / Float(fanIn).squareRoot()
            for i in 0..<p.count { v[i] = rng.uniform(-bound, bound) }
        }
    }

    public func zeroGrad() { grads.update(repeating: 0, count: Swift.max(count, 1)) }

    public func parameter(named name: String) -> Parameter? { parameters.first { $0.name == name } }
    public func buffer(named name: String) -> Tensor? { buffers.first { $0.name == name }?.tensor }
}
