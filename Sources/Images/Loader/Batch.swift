import Tensors

/// One step's input on one rank, reused by the loader (a ring of these): `images` holds the views
/// VIEW-MAJOR, `[views * count, size, size, channels]`: rows 0..<count are view 0 of the batch's
/// images, rows count..<2*count view 1, and so on. Its contents stay valid until the following call
/// to `next()` or `start(epoch:)`, which hands it back to the workers.
public final class Batch {
    /// `[views * count, size, size, channels]`, normalised floats.
    public let images: Tensor
    public let views: Int
    /// Images in this batch (the last batch of an epoch may be smaller than the capacity).
    public internal(set) var count = 0
    /// Step number within the epoch.
    public internal(set) var step = 0
    public internal(set) var epoch = 0
    let labelStorage: UnsafeMutablePointer<Int>
    let indexStorage: UnsafeMutablePointer<Int>
    let replacedStorage: UnsafeMutablePointer<Int>
    let capacity: Int

    init(capacity: Int, views: Int, size: Int, channels: Int) {
        self.capacity = capacity
        self.views = views
        images = Tensor(zeros: [views * capacity, size, size, channels])
        labelStorage = .allocate(capacity: capacity)
        indexStorage = .allocate(capacity: capacity)
        replacedStorage = .allocate(capacity: capacity)
    }

    deinit {
        labelStorage.deallocate()
        indexStorage.deallocate()
        replacedStorage.deallocate()
    }

    /// Label of each image (-1 when unlabelled), in batch order.
    public var labels: [Int] { Array(UnsafeBufferPointer(start: labelStorage, count: count)) }
    /// Global dataset index of each image (after any replacement of an unreadable one).
    public var indices: [Int] { Array(UnsafeBufferPointer(start: indexStorage, count: count)) }
    /// How many images of this batch stand in for unreadable ones.
    public var replaced: Int { (0..<count).reduce(0) { $0 + replacedStorage[$1] } }

    /// Floats of one view: `[size, size, channels]` at row `view * count + item`.
    public func viewPointer(item: Int, view: Int) -> UnsafeMutablePointer<Float> {
        let rowFloats = images.shape[1] * images.shape[2] * images.shape[3]
        return images.data + (view * count + item) * rowFloats
    }
}
