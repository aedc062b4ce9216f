/// A contiguous, row-major block of Float32 with a shape. Images are stored channels-last:
/// `[N, H, W, C]`, so a 1x1 convolution is one matrix product and im2col copies whole channel rows.
///
/// A tensor either owns its memory (freed in `deinit`), borrows it from `TensorPool` (returned in
/// `deinit`), or is a view into memory owned elsewhere (an arena, a larger buffer); views never free.
public final class Tensor {
    public private(set) var shape: [Int]
    public let capacity: Int
    public let data: UnsafeMutablePointer<Float>
    private let storage: Storage

    private enum Storage { case owned, pooled, view }

    public var count: Int { shape.reduce(1, *) }
    public var rank: Int { shape.count }

    /// A zero-filled tensor of the given shape.
    public init(zeros shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "Tensor: negative dimension in \(shape)")
        self.shape = shape
        capacity = Swift.max(1, shape.reduce(1, *))
        data = allocateFloats(capacity)
        data.initialize(repeating: 0, count: capacity)
        storage = .owned
    }

    /// A tensor of `shape` with unspecified contents, its memory from `TensorPool` (a layer's input
    /// gradient, which lives only until the layer before has used it).
    public init(pooled shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "Tensor: negative dimension in \(shape)")
        self.shape = shape
        (data, capacity) = TensorPool.take(Swift.max(1, shape.reduce(1, *)))
        storage = .pooled
    }

    /// A tensor holding a copy of `values`.
    public convenience init(shape: [Int], values: [Float]) {
        precondition(shape.reduce(1, *) == values.count,
                     "Tensor: shape \(shape) does not hold \(values.count) values")
        self.init(zeros: shape)
        values.withUnsafeBufferPointer { data.update(from: $0.baseAddress!, count: values.count) }
    }

    /// A view of `count(shape)` floats starting at `pointer`, owned by someone else.
    public init(viewing pointer: UnsafeMutablePointer<Float>, shape: [Int]) {
        self.shape = shape
        capacity = shape.reduce(1, *)
        data = pointer
        storage = .view
    }

    deinit {
        switch storage {
        case .owned: data.deallocate()
        case .pooled: TensorPool.give(data, capacity: capacity)
        case .view: break
        }
    }

    /// Changes the shape in place without moving data; the new shape must fit the allocation.
    /// Buffers reused across steps are resized this way so a step allocates nothing after warm-up.
    public func reshape(_ newShape: [Int]) {
        precondition(newShape.reduce(1, *) <= capacity,
                     "Tensor.reshape: \(newShape) does not fit a capacity of \(capacity)")
        shape = newShape
    }

    public subscript(index: Int) -> Float {
        get { data[index] }
        set { data[index] = newValue }
    }

    public var array: [Float] { Array(UnsafeBufferPointer(start: data, count: count)) }

    public func fill(_ value: Float) { data.update(repeating: value, count: count) }

    public func copy(from other: Tensor) {
        precondition(other.count == count, "Tensor.copy: \(other.shape) into \(shape)")
        data.update(from: other.data, count: count)
    }

    public func clone() -> Tensor {
        let t = Tensor(zeros: shape)
        t.copy(from: self)
        return t
    }
}

/// A reusable buffer that grows to the largest shape asked of it and never shrinks, so that
/// a layer's cached activations are allocated on the first step only.
public struct Workspace {
    public private(set) var tensor: Tensor?
    public init() {}

    /// A tensor of `shape`, reusing the previous allocation when it is large enough. Contents are
    /// unspecified.
    public mutating func get(_ shape: [Int]) -> Tensor {
        let n = shape.reduce(1, *)
        if let t = tensor, t.capacity >= n {
            t.reshape(shape)
            return t
        }
        let t = Tensor(zeros: shape)
        tensor = t
        return t
    }
}

/// `count` floats starting on a cache line (malloc's large blocks start 16 bytes into a page, so
/// every row a kernel reads or writes in vectors of 64 bytes would straddle two lines).
func allocateFloats(_ count: Int) -> UnsafeMutablePointer<Float> {
    UnsafeMutableRawPointer.allocate(byteCount: count * MemoryLayout<Float>.size, alignment: 64)
        .bindMemory(to: Float.self, capacity: count)
}
