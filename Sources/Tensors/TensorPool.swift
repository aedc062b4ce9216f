import Synchronization

/// Memory for tensors that live briefly but recur every step (the gradients flowing backward
/// through a network): a released block waits for the next request of its size class.
///
/// A layer that kept its own input-gradient buffer would hold one activation-sized block per
/// layer for the whole run; from the pool, a backward pass holds only the few that are alive at
/// once. Every request is rounded up to a size class (five significant bits: at most 1/16 more
/// than asked, nothing for powers of two) and served only by a block of that class. So a request
/// always finds the same blocks whatever else is waiting: once a sequence of requests and releases
/// has run, running it again allocates nothing, even with leftovers of earlier work in the pool.
public enum TensorPool {
    private struct State: ~Copyable {
        var free: [Int: [UnsafeMutablePointer<Float>]] = [:]
        var allocatedFloats = 0
        var inUseFloats = 0, peakInUseFloats = 0
    }

    private static let state = Mutex(State())

    /// The size class of a request of `floats`: `floats` rounded up to keep only its five
    /// highest significant bits.
    public static func sizeClass(_ floats: Int) -> Int {
        let dropped = max(0, Int.bitWidth - floats.leadingZeroBitCount - 5)
        let unit = 1 << dropped
        return (floats + unit - 1) / unit * unit
    }

    /// A block for at least `floats` floats (contents unspecified) and its capacity, the size class
    /// of `floats`: a waiting block of that class, or a new one.
    static func take(_ floats: Int) -> (block: UnsafeMutablePointer<Float>, capacity: Int) {
        let capacity = sizeClass(floats)
        let reused = state.withLock { state -> UnsafeMutablePointer<Float>? in
            state.inUseFloats += capacity
            state.peakInUseFloats = max(state.peakInUseFloats, state.inUseFloats)
            if let block = state.free[capacity]?.popLast() { return block }
            state.allocatedFloats += capacity
            return nil
        }
        return (reused ?? allocateFloats(capacity), capacity)
    }

    /// Returns a block from `take` to the pool.
    static func give(_ block: UnsafeMutablePointer<Float>, capacity: Int) {
        state.withLock { state in
            state.inUseFloats -= capacity
            state.free[capacity, default: []].append(block)
        }
    }

    /// The most bytes in use at once (taken and not yet returned) since the last `resetPeak`: how
    /// many gradients a backward pass holds alive together.
    public static var peakInUseBytes: Int {
        state.withLock { $0.peakInUseFloats } * MemoryLayout<Float>.size
    }

    /// Bytes taken and not yet returned.
    public static var inUseBytes: Int {
        state.withLock { $0.inUseFloats } * MemoryLayout<Float>.size
    }

    /// Starts the next `peakInUseBytes` from what is in use now.
    public static func resetPeak() {
        state.withLock { $0.peakInUseFloats = $0.inUseFloats }
    }

    /// Bytes the pool has allocated (in use or waiting): after the first step, a training loop's
    /// figure stays the same.
    public static var allocatedBytes: Int {
        state.withLock { $0.allocatedFloats } * MemoryLayout<Float>.size
    }

    /// Frees the blocks that are waiting (in use ones return to the pool when released).
    public static func trim() {
        state.withLock { state in
            for (capacity, blocks) in state.free {
                for block in blocks { block.deallocate() }
                state.allocatedFloats -= capacity * blocks.count
            }
            state.free = [:]
        }
    }
}
