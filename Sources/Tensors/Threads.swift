import CBLAS
import Dispatch
import Foundation
import Synchronization

/// Who owns the cores of a rank: one pool of `Threads.count` threads runs both the matrix products
/// (`gemm` splits them into one-thread OpenBLAS calls) and the element-wise loops (`parallelFor`).
/// OpenBLAS's own threads would spin between calls and compete with the loops. Data loading runs on
/// its own workers, sized by the loader from what is left.
public enum Threads {
    nonisolated(unsafe) public private(set) static var count = 1
    /// How the threads wait for work.
    nonisolated(unsafe) public private(set) static var waiting = Waiting.spin
    /// The `count - 1` threads that join the calling thread in `parallelFor` and `gemm` (`.spin`).
    nonisolated(unsafe) private static var pool: ComputePool?

    public enum Waiting: String, Sendable, CaseIterable {
        /// Our own workers, which poll for the next call for a millisecond before they sleep.
        case spin
        /// Dispatch's `concurrentPerform` on every call (kept for comparisons: `simclr bench step
        /// --thread-pool dispatch`).
        case dispatch
    }

    /// Sets the number of compute threads of this process (BLAS and element-wise loops).
    public static func configure(_ n: Int, waiting: Waiting = .spin) {
        let n = Swift.max(1, n)
        // OpenBLAS itself runs one thread: `gemm` splits products across this pool instead.
        openblas_set_num_threads(1)
        // The pool exists exactly when count > 1 and waiting is .spin, so it follows these two.
        guard n != count || waiting != self.waiting else { return }
        pool?.stop()
        pool = n > 1 && waiting == .spin ? ComputePool(workers: n - 1, cores: cores) : nil
        count = n
        self.waiting = waiting
    }

    /// The cores this process may run on: those its CPU affinity allows (what `taskset` or mpirun's
    /// binding left it), or every core of the machine where the kernel does not say.
    public static let cores: Int = {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Cpus_allowed:") }),
              let colon = line.firstIndex(of: ":") else { return ProcessInfo.processInfo.activeProcessorCount }
        // A hexadecimal mask in comma-separated groups of 32 bits, one bit per core.
        let allowed = line[line.index(after: colon)...].reduce(0) { sum, digit in
            sum + (digit.hexDigitValue ?? 0).nonzeroBitCount
        }
        return allowed > 0 ? allowed : ProcessInfo.processInfo.activeProcessorCount
    }()

    /// Whether a parallel call is running (its parts, and any thread calling meanwhile, run serially).
    private static let busy = Atomic<Bool>(false)

    /// The threads a call made now would run on: `count`, or 1 from inside a parallel call.
    public static var available: Int { count > 1 && !busy.load(ordering: .relaxed) ? count : 1 }

    /// How many pieces per thread work is cut into where the pieces are cheap to make (the rows of a
    /// product, the ranges of a loop). The parts of a call go to the threads as they come free, so
    /// a thread on a slower core takes fewer: on a shared machine one core can run behind the other
    /// for minutes at a time, and with one piece each the faster thread would wait for it.
    public static let chunksPerThread = 4

    /// Runs `body(0)`, ..., `body(parts - 1)`: in parallel on the compute threads (at most `count`
    /// at once), or one after the other on the calling thread when it is inside a parallel body,
    /// or another thread's parallel call is running (then that call has the cores already).
    public static func parallel(_ parts: Int, _ body: (Int) -> Void) {
        if parts > 1 && count > 1 && busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged {
            defer { busy.store(false, ordering: .releasing) }
            if let pool {
                pool.run(parts, body)
            } else {
                DispatchQueue.concurrentPerform(iterations: parts, execute: body)
            }
            return
        }
        for part in 0..<parts { body(part) }
    }
}

/// Runs `body(range)` over `0..<n` split into contiguous chunks, in parallel when the work is large
/// enough to pay for it (`grain` items or more per chunk). Up to `Threads.chunksPerThread` chunks
/// per thread, taken by the threads as they come free.
@inline(__always)
public func parallelFor(_ n: Int, grain: Int = 1, _ body: (Range<Int>) -> Void) {
    let chunks = Swift.min(Threads.available * Threads.chunksPerThread, Swift.max(1, n / Swift.max(1, grain)))
    if chunks <= 1 {
        body(0..<n)
        return
    }
    Threads.parallel(chunks) { c in
        body(n * c / chunks ..< n * (c + 1) / chunks)
    }
}

/// Work cut into chunks of whole images (of tiles, for the Winograd convolution), spread over the
/// compute threads.
///
/// A chunk's operations (an im2col and its product, a Winograd transform and its 36 products)
/// are small: split across threads one at a time, every one pays the split. With at least two
/// chunks per thread, each thread instead works through whole chunks alone (a fixed run of them, or
/// each next one as it comes free), with its own scratch buffers, like a rank of its own.
public struct ChunkPlan {
    /// Images (or tiles) in all, the most in one chunk, and the number of chunks.
    public let images, chunk, count: Int
    /// Threads that take whole chunks: `Threads.available`, or 1 when there are too few chunks or
    /// `shared` is set (then each operation splits across the threads instead).
    public let parts: Int

    /// Chunks are at most `chunk` images and within one image of each other, and when the threads take
    /// whole chunks there are as many for each (7 chunks of the same size on 2 threads would leave
    /// one thread idle for a seventh of the work).
    ///
    /// - Parameter shared: every chunk split across the threads even when there are enough chunks
    ///   to share out, for work whose parts would each need a large buffer of their own.
    public init(images: Int, chunk: Int, shared: Bool = false) {
        self.images = images
        let largest = Swift.max(1, chunk)
        var count = (images + largest - 1) / largest
        let threads = Threads.available
        parts = !shared && count >= 2 * threads ? threads : 1
        count = Swift.min(images, (count + parts - 1) / parts * parts)
        self.count = count
        self.chunk = count > 0 ? (images + count - 1) / count : largest
    }

    /// Runs `body(part, images)` for every chunk, each part on one thread, its chunks in order.
    ///
    /// - Parameter claimed: each chunk goes to the part whose thread comes free first, for chunks
    ///   that write only their own images' outputs. Otherwise part `p` takes a fixed run of chunks,
    ///   so that sums kept per part do not depend on which thread was faster.
    public func forEach(claimed: Bool = false, _ body: (Int, Range<Int>) -> Void) {
        if claimed && parts > 1 {
            withUnsafeTemporaryAllocation(of: Atomic<Int>.self, capacity: 1) { next in
                next.initializeElement(at: 0, to: Atomic<Int>(0))
                Threads.parallel(parts) { part in
                    while true {
                        let c = next[0].wrappingAdd(1, ordering: .relaxed).oldValue
                        if c >= count { return }
                        body(part, range(c))
                    }
                }
                _ = next.moveElement(from: 0)
            }
            return
        }
        Threads.parallel(parts) { part in
            for c in count * part / parts ..< count * (part + 1) / parts { body(part, range(c)) }
        }
    }

    /// Chunk `c`'s images.
    private func range(_ c: Int) -> Range<Int> { images * c / count ..< images * (c + 1) / count }
}
