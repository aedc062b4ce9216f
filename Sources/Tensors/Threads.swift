import CBLAS
import Dispatch

/// Who owns the cores of a rank: one pool of `Threads.count` threads runs both the matrix products
/// (`gemm` splits them into one-thread OpenBLAS calls) and the element-wise loops (`parallelFor`).
/// OpenBLAS's own threads would spin between calls and compete with the loops. Data loading runs on
/// its own workers, sized by the loader from what is left.
public enum Threads {
    nonisolated(unsafe) public private(set) static var count = 1

    /// Sets the number of compute threads of this process (BLAS and element-wise loops).
    public static func configure(_ n: Int) {
        count = Swift.max(1, n)
        // OpenBLAS itself runs one thread: `gemm` splits products across this pool instead.
        openblas_set_num_threads(1)
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
