import CBLAS
import Dispatch
#if canImport(Glibc)
import Glibc
#endif
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
        pool = n > 1 && waiting == .spin ? ComputePool(workers: n - 1) : nil
        count = n
        self.waiting = waiting
    }

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

/// Worker threads that wait for work by spinning for a while, then sleep.
///
/// A step makes thousands of parallel calls of a fraction of a millisecond each (every chunk's
/// im2col and product, every BatchNorm pass), so the time a sleeping thread takes to wake up would
/// be a large part of each; a worker that has just finished one keeps polling for the next. Every
/// worker takes part in every call (it may find no part left to run) and reports when it is done,
/// so the body is never touched after `run` returns.
final class ComputePool: @unchecked Sendable {
    private let workers: Int
    /// Incremented by the caller to publish a call (its body and part count).
    private let generation = Atomic<Int>(0)
    /// The next part to claim, and the workers that have finished the current call.
    private let nextPart = Atomic<Int>(0), finished = Atomic<Int>(0)
    /// Workers that have gone to sleep.
    private let sleeping = Atomic<Int>(0)
    private let stopping = Atomic<Bool>(false)
    private var body: ((Int) -> Void)?
    private var parts = 0
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let wake = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    /// How long an idle worker polls before it sleeps: longer than the gaps between the parallel
    /// calls of a step, short enough not to hold a core while the loader or a serial phase needs it.
    private static let spinNanoseconds: UInt64 = 1_000_000

    init(workers: Int) {
        self.workers = workers
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(wake, nil)
        for _ in 0..<workers {
            let unmanaged = Unmanaged.passRetained(self)
            var thread = pthread_t()
            let status = pthread_create(&thread, nil, { context in
                let pool = Unmanaged<ComputePool>.fromOpaque(context!).takeRetainedValue()
                pool.workerLoop()
                return nil
            }, unmanaged.toOpaque())
            precondition(status == 0, "ComputePool: pthread_create failed (\(status))")
            pthread_detach(thread)
        }
    }

    deinit {
        pthread_cond_destroy(wake)
        pthread_mutex_destroy(mutex)
        wake.deallocate()
        mutex.deallocate()
    }

    /// Ends the workers after their current call; the pool must not be used again.
    func stop() {
        stopping.store(true, ordering: .sequentiallyConsistent)
        generation.wrappingAdd(1, ordering: .sequentiallyConsistent)
        wakeSleepers()
    }

    /// Wakes the workers sleeping in `waitForCall` (after a new generation is published).
    private func wakeSleepers() {
        pthread_mutex_lock(mutex)
        pthread_cond_broadcast(wake)
        pthread_mutex_unlock(mutex)
    }

    /// Runs the parts on the caller and the workers (one caller at a time: `Threads.parallel`).
    func run(_ parts: Int, _ body: (Int) -> Void) {
        withoutActuallyEscaping(body) { body in
            self.body = body
            self.parts = parts
            nextPart.store(0, ordering: .relaxed)
            finished.store(0, ordering: .relaxed)
            generation.wrappingAdd(1, ordering: .sequentiallyConsistent)
            if sleeping.load(ordering: .sequentiallyConsistent) > 0 { wakeSleepers() }
            runParts()
            var polls = 0
            while finished.load(ordering: .acquiring) < workers {
                polls += 1
                if polls > 4096 { sched_yield() }
            }
            self.body = nil
        }
    }

    /// Claims and runs parts of the current call until none is left.
    @inline(never)
    private func runParts() {
        guard let body else { return }
        while true {
            let part = nextPart.wrappingAdd(1, ordering: .relaxed).oldValue
            if part >= parts { return }
            body(part)
        }
    }

    private func workerLoop() {
        // Generation 0 is the pool's state before its first call.
        var seen = 0
        while true {
            seen = waitForCall(after: seen)
            if stopping.load(ordering: .acquiring) { return }
            runParts()
            finished.wrappingAdd(1, ordering: .releasing)
        }
    }

    /// The generation of the next call after `seen`: polled, then slept on.
    private func waitForCall(after seen: Int) -> Int {
        let start = DispatchTime.now().uptimeNanoseconds
        var polls = 0
        while true {
            let current = generation.load(ordering: .acquiring)
            if current != seen { return current }
            polls += 1
            if polls & 1023 == 0 && DispatchTime.now().uptimeNanoseconds &- start > Self.spinNanoseconds { break }
        }
        pthread_mutex_lock(mutex)
        sleeping.wrappingAdd(1, ordering: .sequentiallyConsistent)
        while generation.load(ordering: .sequentiallyConsistent) == seen {
            pthread_cond_wait(wake, mutex)
        }
        sleeping.wrappingSubtract(1, ordering: .sequentiallyConsistent)
        pthread_mutex_unlock(mutex)
        return generation.load(ordering: .acquiring)
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
