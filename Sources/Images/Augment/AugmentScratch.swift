/// Per-worker buffers for the augmentations: filter tables, the intermediate rows of a resize and a
/// blur's temporary image. They grow to the largest request and are reused, so augmenting allocates
/// nothing once a worker has seen its largest image. Not shared between threads.
public final class AugmentScratch {
    private var buffers: [(pointer: UnsafeMutablePointer<Float>, capacity: Int)] = []
    private var indexBuffers: [(pointer: UnsafeMutablePointer<Int32>, capacity: Int)] = []

    public init() {}

    deinit {
        for b in buffers { b.pointer.deallocate() }
        for b in indexBuffers { b.pointer.deallocate() }
    }

    /// Float buffer number `slot` with room for at least `count` values (contents unspecified).
    func floats(_ slot: Int, _ count: Int) -> UnsafeMutablePointer<Float> {
        while buffers.count <= slot { buffers.append((.allocate(capacity: 1), 1)) }
        if buffers[slot].capacity < count {
            buffers[slot].pointer.deallocate()
            buffers[slot] = (.allocate(capacity: count), count)
        }
        return buffers[slot].pointer
    }

    /// Int32 buffer number `slot` with room for at least `count` values (contents unspecified).
    func indices(_ slot: Int, _ count: Int) -> UnsafeMutablePointer<Int32> {
        while indexBuffers.count <= slot { indexBuffers.append((.allocate(capacity: 1), 1)) }
        if indexBuffers[slot].capacity < count {
            indexBuffers[slot].pointer.deallocate()
            indexBuffers[slot] = (.allocate(capacity: count), count)
        }
        return indexBuffers[slot].pointer
    }
}
