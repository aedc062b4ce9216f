import Tensors

/// Per-channel sums over the rows of channels-last data (`[rows, C]`, the channel fastest),
/// accumulated in Double by blocks of rows in parallel.
///
/// Each block adds into its own slice of a scratch buffer (grown on first use, then reused), and the
/// slices are added in block order, so a result depends on the thread count but not on timing.
final class ChannelReduction {
    private var scratch = UnsafeMutablePointer<Double>.allocate(capacity: 1)
    private var capacity = 1
    private var floatScratch = UnsafeMutablePointer<Float>.allocate(capacity: 1)
    private var floatCapacity = 1

    deinit {
        scratch.deallocate()
        floatScratch.deallocate()
    }

    /// Runs `kernel(rowRange, partial)` over blocks of rows, where `partial` holds `sums * channels`
    /// doubles starting at zero for the kernel to add into. Returns the totals (`sums * channels`
    /// doubles), valid until the next call.
    func reduce(rows: Int, channels: Int, sums: Int,
                _ kernel: (Range<Int>, UnsafeMutablePointer<Double>) -> Void) -> UnsafeMutablePointer<Double> {
        reduceBlocks(rows: rows, channels: channels, sums: sums) { _, range, acc in kernel(range, acc) }
    }

    /// Like `reduce`, but the kernel adds into a Float partial (`sums * channels` floats starting at
    /// zero) for at most `blockRows` rows at a time, and each partial is folded into the Double
    /// totals: Float adds vectorise, and a sum of a few dozen floats keeps float precision.
    func reduceInFloat(rows: Int, channels: Int, sums: Int, blockRows: Int = 32,
                       _ kernel: (Range<Int>, UnsafeMutablePointer<Float>) -> Void) -> UnsafeMutablePointer<Double> {
        let width = sums * channels
        let needed = Swift.max(1, Threads.count) * width
        if needed > floatCapacity {
            floatScratch.deallocate()
            floatScratch = .allocate(capacity: needed)
            floatCapacity = needed
        }
        let floats = floatScratch
        return reduceBlocks(rows: rows, channels: channels, sums: sums) { block, range, acc in
            let partial = floats + block * width
            var lo = range.lowerBound
            while lo < range.upperBound {
                let hi = Swift.min(range.upperBound, lo + blockRows)
                partial.update(repeating: 0, count: width)
                kernel(lo..<hi, partial)
                for i in 0..<width { acc[i] += Double(partial[i]) }
                lo = hi
            }
        }
    }

    private func reduceBlocks(rows: Int, channels: Int, sums: Int,
                              _ kernel: (Int, Range<Int>, UnsafeMutablePointer<Double>) -> Void)
        -> UnsafeMutablePointer<Double> {
        let width = sums * channels
        // Blocks below ~32k elements are not worth a thread; never more blocks than threads.
        let blocks = Swift.max(1, Swift.min(Threads.count, rows * channels / 32_768))
        let needed = (blocks + 1) * width
        if needed > capacity {
            scratch.deallocate()
            scratch = .allocate(capacity: needed)
            capacity = needed
        }
        let total = scratch, partials = scratch + width
        parallelFor(blocks) { range in
            for b in range {
                let partial = partials + b * width
                partial.update(repeating: 0, count: width)
                kernel(b, rows * b / blocks..<rows * (b + 1) / blocks, partial)
            }
        }
        total.update(from: partials, count: width)
        for b in 1..<blocks {
            let partial = partials + b * width
            for i in 0..<width { total[i] += partial[i] }
        }
        return total
    }

    /// `sum[c] += Σ_r dy[r, c]`, the gradient of a per-channel bias.
    func addColumnSums(of dy: UnsafePointer<Float>, rows: Int, channels: Int, into sum: UnsafeMutablePointer<Float>) {
        let totals = reduce(rows: rows, channels: channels, sums: 1) { range, acc in
            for r in range {
                let row = dy + r * channels
                for j in 0..<channels { acc[j] += Double(row[j]) }
            }
        }
        for j in 0..<channels { sum[j] += Float(totals[j]) }
    }
}
