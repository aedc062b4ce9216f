import Tensors

/// Which samples a rank sees in each step of an epoch. The epoch's order is one seeded permutation
/// of the whole dataset (the same on every rank). The global batch of step s is
/// `order[s*B ..< (s+1)*B]`, and rank r of P takes the r-th contiguous 1/P of it, so P ranks with
/// B/P images each see exactly the images one process with B would. Samples beyond the largest
/// multiple of P are dropped, so every rank gets the same number.
public enum Sharding {
    /// The epoch's order of the `count` sample indices (identity when not shuffled).
    public static func epochOrder(count: Int, seed: UInt64, epoch: Int, shuffle: Bool = true) -> [Int] {
        guard shuffle else { return Array(0..<count) }
        // A stream no sample's augmentation uses (sample streams have view < 2^16).
        var random = RandomStream(seed: seed, epoch: epoch, index: Int(UInt32.max), view: 0x5EED_0000)
        return random.permutation(count)
    }

    /// Rank `rank`'s batches of global sample indices.
    /// - Parameters:
    ///   - globalBatch: images per step over all ranks (a multiple of `worldSize`).
    ///   - dropLast: drop the last partial global batch; otherwise it is shared equally as well.
    public static func batches(order: [Int], globalBatch: Int, rank: Int, worldSize: Int,
                               dropLast: Bool) -> [[Int]] {
        precondition(worldSize > 0 && (0..<worldSize).contains(rank), "Sharding: rank \(rank) of \(worldSize)")
        precondition(globalBatch > 0 && globalBatch % worldSize == 0,
                     "Sharding: global batch \(globalBatch) is not a multiple of \(worldSize) ranks")
        let usable = order.count - order.count % worldSize
        let local = globalBatch / worldSize
        let steps = usable / globalBatch
        var result: [[Int]] = []
        result.reserveCapacity(steps + 1)
        for s in 0..<steps {
            let start = s * globalBatch + rank * local
            result.append(Array(order[start ..< start + local]))
        }
        let rest = usable - steps * globalBatch
        if !dropLast && rest > 0 {
            let share = rest / worldSize, start = steps * globalBatch + rank * share
            result.append(Array(order[start ..< start + share]))
        }
        return result
    }
}
