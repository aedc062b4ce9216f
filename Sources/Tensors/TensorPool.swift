import Synchronization

/// Memory for tensors that live briefly but recur every step (the gradients flowing backward
/// through a network): a released block waits, by size, for the next request of that size.
///
/// A layer that kept its own input-gradient buffer would hold one activation-sized block per
/// layer for the whole run; from the pool, a backward pass holds only the few that are alive at
/// once, and from the second step on it allocates nothing (the sizes repeat). Blocks of other sizes
/// left free by earlier work can make a step after the first allocate a little more, once.
public enum TensorPool {
    private struct State: ~Copyable {
        var free: [Int: [UnsafeMutablePointer<Float>]] = [:]
        var allocatedFloats = 0
    }

    private static let state = Mutex(State())

    /// A block of at least `floats` floats (contents unspecified) and its size: the smallest free
    /// one of up to twice that size (so a smaller batch reuses the blocks of a larger one), or a new one.
    static func take(_ floats: Int) -> (block: UnsafeMutablePointer<Float>, capacity: Int) {
        let reused = state.withLock { state -> (UnsafeMutablePointer<Float>, Int)? in
            let fits = state.free.filter { $0.key >= floats && $0.key <= 2 * floats && !$0.value.isEmpty }.keys
            if let capacity = fits.min() { return (state.free[capacity]!.removeLast(), capacity) }
            state.allocatedFloats += floats
            return nil
        }
        return reused ?? (.allocate(capacity: floats), floats)
    }

    /// Returns a block from `take` to the pool.
    static func give(_ block: UnsafeMutablePointer<Float>, capacity: Int) {
        state.withLock { $0.free[capacity, default: []].append(block) }
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
