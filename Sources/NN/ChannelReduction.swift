import Tensors

/// Per-channel sums over the rows of channels-last data (`[rows, C]`, the channel fastest),
/// accumulated in Double by blocks of rows in parallel.
///
/// Each block adds into its own slice of a scratch buffer (grown on first use, then reused), and the
/// slices are added in block order, so a result depends on the thread count but not on timing.
final class ChannelReduction {
    private var scratch = UnsafeMutablePointer<Double>.allocate(capacity: 1)
    private var capacity = 1

    deinit { scratch.deallocate() }

    /// Runs `kernel(rowRange, partial)` over blocks of rows, where `partial` holds `sums * channels`
    /// doubles starting at zero for the kernel to add into. Returns the totals (`sums * channels`
    /// doubles), valid until the next call.
    func reduce(rows: Int, channels: Int, sums: Int,
                _ kernel: (Range<Int>, UnsafeMutablePointer<Double>) -> Void) -> UnsafeMutablePointer<Double> {
        let width = sums * channels
        // Blocks below ~32k elements are not worth a thread.
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
                kernel(rows * b / blocks..<rows * (b + 1) / blocks, partial)
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
