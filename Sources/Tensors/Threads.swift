import CBLAS
import Dispatch

/// Who owns the cores of a rank. Matrix products run on OpenBLAS's threads and element-wise loops on
/// `parallelFor`'s; the two never run at the same time, and both use `Threads.count`. Data loading
/// runs on its own workers, sized by the loader from what is left.
public enum Threads {
    nonisolated(unsafe) public private(set) static var count = 1

    /// Sets the number of compute threads of this process (BLAS and element-wise loops).
    public static func configure(_ n: Int) {
        count = Swift.max(1, n)
        openblas_set_num_threads(Int32(count))
    }
}

/// Runs `body(range)` over `0..<n` split into at most `Threads.count` contiguous chunks, in
/// parallel when the work is large enough to pay for it (`grain` items or more per chunk).
@inline(__always)
public func parallelFor(_ n: Int, grain: Int = 1, _ body: (Range<Int>) -> Void) {
    let chunks = Swift.min(Threads.count, Swift.max(1, n / Swift.max(1, grain)))
    if chunks <= 1 {
        body(0..<n)
        return
    }
    withoutActuallyEscaping(body) { body in
        DispatchQueue.concurrentPerform(iterations: chunks) { c in
            let lo = n * c / chunks, hi = n * (c + 1) / chunks
            body(lo..<hi)
        }
    }
}
