import Foundation

/// A counter-based random stream (Philox4x32-10, Salmon et al. 2011). A stream is named by a key
/// `(seed, epoch, index, view)` and its numbers depend on nothing else, so the same sample gets the
/// same random views whatever the number of ranks, threads or the order of work.
public struct RandomStream {
    private let key: (UInt32, UInt32)
    private let tag: (UInt32, UInt32, UInt32)
    private var block: UInt32 = 0
    private var buffer: (UInt32, UInt32, UInt32, UInt32) = (0, 0, 0, 0)
    private var used = 4

    /// - Parameters:
    ///   - seed: the run's seed.
    ///   - epoch, index, view: where in the run these numbers are used (sample index is global).
    public init(seed: UInt64, epoch: Int = 0, index: Int = 0, view: Int = 0) {
        key = (UInt32(truncatingIfNeeded: seed), UInt32(truncatingIfNeeded: seed >> 32))
        tag = (UInt32(truncatingIfNeeded: view), UInt32(truncatingIfNeeded: index),
               UInt32(truncatingIfNeeded: epoch))
    }

    private static func round(_ c: inout (UInt32, UInt32, UInt32, UInt32), _ k: (UInt32, UInt32)) {
        let p0 = UInt64(0xD251_1F53) &* UInt64(c.0)
        let p1 = UInt64(0xCD9E_8D57) &* UInt64(c.2)
        c = (UInt32(truncatingIfNeeded: p1 >> 32) ^ c.1 ^ k.0, UInt32(truncatingIfNeeded: p1),
             UInt32(truncatingIfNeeded: p0 >> 32) ^ c.3 ^ k.1, UInt32(truncatingIfNeeded: p0))
    }

    /// The Philox4x32-10 bijection of one 128-bit counter under a 64-bit key.
    public static func philox(_ counter: (UInt32, UInt32, UInt32, UInt32),
                              key: (UInt32, UInt32)) -> (UInt32, UInt32, UInt32, UInt32) {
        var c = counter, k = key
        for r in 0..<10 {
            if r > 0 { k = (k.0 &+ 0x9E37_79B9, k.1 &+ 0xBB67_AE85) }
            round(&c, k)
        }
        return c
    }

    public mutating func nextUInt32() -> UInt32 {
        if used == 4 {
            buffer = Self.philox((block, tag.0, tag.1, tag.2), key: key)
            block &+= 1
            used = 0
        }
        defer { used += 1 }
        switch used {
        case 0: return buffer.0
        case 1: return buffer.1
        case 2: return buffer.2
        default: return buffer.3
        }
    }

    /// Uniform in [0, 1), 24 bits of resolution.
    public mutating func uniform() -> Float {
        Float(nextUInt32() >> 8) * (1.0 / 16_777_216.0)
    }

    /// Uniform in [lo, hi).
    public mutating func uniform(_ lo: Float, _ hi: Float) -> Float {
        lo + (hi - lo) * uniform()
    }

    /// True with probability `p`.
    public mutating func bernoulli(_ p: Float) -> Bool { uniform() < p }

    /// An integer uniform in `0..<n`.
    public mutating func below(_ n: Int) -> Int {
        precondition(n > 0, "RandomStream.below: empty range")
        return Int((UInt64(nextUInt32()) &* UInt64(n)) >> 32)
    }

    /// A standard normal variate (Box-Muller).
    public mutating func normal() -> Float {
        let u1 = Swift.max(uniform(), 1e-7), u2 = uniform()
        return (-2 * logf(u1)).squareRoot() * cosf(2 * Float.pi * u2)
    }

    /// A uniformly random permutation of `0..<n` (Fisher-Yates).
    public mutating func permutation(_ n: Int) -> [Int] {
        var p = Array(0..<n)
        if n < 2 { return p }
        for i in stride(from: n - 1, to: 0, by: -1) {
            p.swapAt(i, below(i + 1))
        }
        return p
    }
}
