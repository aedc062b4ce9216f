import Dispatch
import Foundation
import Synchronization
import Tensors
import XCTest

/// The compute threads: every part of a parallel call runs exactly once, on either way of waiting,
/// after the workers have gone to sleep, from inside a parallel body and from several threads at once.
final class ThreadsTests: XCTestCase {
    private var saved = 1, savedWaiting = Threads.Waiting.spin

    override func setUp() {
        saved = Threads.count
        savedWaiting = Threads.waiting
    }

    override func tearDown() {
        Threads.configure(saved, waiting: savedWaiting)
    }

    /// Runs `parallel(parts)` and returns how often each part ran.
    private func counts(_ parts: Int) -> [Int] {
        let hits = UnsafeMutablePointer<Int>.allocate(capacity: parts)
        defer { hits.deallocate() }
        hits.initialize(repeating: 0, count: parts)
        Threads.parallel(parts) { hits[$0] += 1 }
        return Array(UnsafeBufferPointer(start: hits, count: parts))
    }

    func testEveryPartRunsOnceOnBothWaysOfWaiting() {
        for waiting in Threads.Waiting.allCases {
            for threads in [1, 2, 3] {
                Threads.configure(threads, waiting: waiting)
                XCTAssertEqual(Threads.count, threads)
                XCTAssertEqual(Threads.waiting, waiting)
                for round in 0..<500 {
                    let parts = 1 + round % 7
                    XCTAssertEqual(counts(parts), Array(repeating: 1, count: parts),
                                   "\(waiting) threads \(threads) parts \(parts)")
                }
            }
        }
    }

    func testWorkersThatWentToSleepWakeForTheNextCall() {
        Threads.configure(2)
        for _ in 0..<5 {
            XCTAssertEqual(counts(2), [1, 1])
            usleep(5_000)  // longer than the workers poll before they sleep
        }
    }

    func testThePartsRunOnSeveralThreads() {
        Threads.configure(2)
        // Each part waits for the other to start: on one thread this would never finish.
        let started = Atomic<Int>(0)
        let deadline = Date().addingTimeInterval(10)
        let sawBoth = UnsafeMutablePointer<Bool>.allocate(capacity: 2)
        defer { sawBoth.deallocate() }
        sawBoth.initialize(repeating: false, count: 2)
        Threads.parallel(2) { part in
            started.wrappingAdd(1, ordering: .relaxed)
            while started.load(ordering: .relaxed) < 2 && Date() < deadline {}
            sawBoth[part] = started.load(ordering: .relaxed) == 2
        }
        XCTAssertEqual([sawBoth[0], sawBoth[1]], [true, true])
    }

    func testANestedCallRunsSeriallyAndCompletely() {
        Threads.configure(2)
        let n = 1000
        let hits = UnsafeMutablePointer<Int>.allocate(capacity: 2 * n)
        defer { hits.deallocate() }
        hits.initialize(repeating: 0, count: 2 * n)
        let inner = UnsafeMutablePointer<Int>.allocate(capacity: 2)
        defer { inner.deallocate() }
        Threads.parallel(2) { part in
            inner[part] = Threads.available
            parallelFor(n) { range in for i in range { hits[part * n + i] += 1 } }
        }
        XCTAssertEqual([inner[0], inner[1]], [1, 1])
        XCTAssertEqual(Threads.available, 2)
        XCTAssertTrue(UnsafeBufferPointer(start: hits, count: 2 * n).allSatisfy { $0 == 1 })
    }

    func testCallersOnSeveralThreadsAtOnce() {
        Threads.configure(2)
        let callers = 4, n = 4096
        let sums = UnsafeMutablePointer<Int>.allocate(capacity: callers)
        defer { sums.deallocate() }
        sums.initialize(repeating: 0, count: callers)
        DispatchQueue.concurrentPerform(iterations: callers) { caller in
            let values = UnsafeMutablePointer<Int>.allocate(capacity: n)
            defer { values.deallocate() }
            for _ in 0..<200 {
                values.initialize(repeating: 0, count: n)
                parallelFor(n, grain: 64) { range in for i in range { values[i] = i } }
                sums[caller] += (0..<n).reduce(0) { $0 + values[$1] }
            }
        }
        XCTAssertEqual(Array(UnsafeBufferPointer(start: sums, count: callers)),
                       Array(repeating: 200 * n * (n - 1) / 2, count: callers))
    }

    func testChunkPlanCoversEveryImageOnceInOrderWithinAPart() {
        for threads in [1, 2, 3] {
            Threads.configure(threads)
            let cases = [(1, 1), (5, 1), (5, 2), (7, 3), (12, 2), (3, 8), (512, 2), (3136, 455), (0, 4)]
            for (images, chunk) in cases { for shared in [false, true] { for claimed in [false, true] {
                let label = "\(images)/\(chunk) on \(threads), shared \(shared), claimed \(claimed)"
                let plan = ChunkPlan(images: images, chunk: chunk, shared: shared)
                let wanted = (images + chunk - 1) / chunk
                XCTAssertEqual(plan.parts, !shared && wanted >= 2 * threads ? threads : 1, label)
                XCTAssertLessThanOrEqual(plan.chunk, chunk, label)
                if plan.parts > 1 && images >= wanted + plan.parts {
                    XCTAssertEqual(plan.count % plan.parts, 0, "as many chunks for every thread: \(label)")
                }
                var seen = [[Range<Int>]](repeating: [], count: plan.parts)
                let lock = NSLock()
                plan.forEach(claimed: claimed) { part, range in
                    lock.lock(); seen[part].append(range); lock.unlock()
                }
                let all = seen.flatMap { $0 }
                XCTAssertEqual(all.count, plan.count, label)
                XCTAssertEqual(all.sorted { $0.lowerBound < $1.lowerBound }.flatMap { Array($0) }, Array(0..<images),
                               "every image once: \(label)")
                for runs in seen {
                    XCTAssertEqual(runs, runs.sorted { $0.lowerBound < $1.lowerBound }, "a part's chunks in order: \(label)")
                }
                if !claimed {
                    XCTAssertEqual(all.flatMap { Array($0) }, Array(0..<images), "fixed runs, parts in order: \(label)")
                }
                let sizes = all.map(\.count)
                XCTAssertLessThanOrEqual((sizes.max() ?? 0) - (sizes.min() ?? 0), 1, "even chunks: \(label)")
                XCTAssertEqual(sizes.max() ?? 0, images == 0 ? 0 : plan.chunk, label)
            } } }
        }
    }

    func testClaimedChunksGoToTheThreadThatComesFree() {
        Threads.configure(2)
        // Part 0's thread is slowed down: with claimed chunks the other takes more than the half a
        // fixed run would give it.
        let plan = ChunkPlan(images: 40, chunk: 1)
        var taken = [0, 0]
        let lock = NSLock()
        plan.forEach(claimed: true) { part, _ in
            if part == 0 { usleep(5_000) }
            lock.lock(); taken[part] += 1; lock.unlock()
        }
        XCTAssertEqual(taken.reduce(0, +), 40)
        XCTAssertGreaterThan(taken[1], 25, "the free thread should take most chunks, took \(taken)")
    }

    /// A step's worth of short parallel loops on many more threads than cores, beside a thread that
    /// keeps one core busy, takes no more than several times as long as on one thread: the threads
    /// that cannot get a core must not hold up the calls or take the core from those that can.
    func testManyMoreThreadsThanCoresBesideABusyThreadCostAtMostSeveralTimesOneThread() {
        let busy = BusyThread()
        defer { busy.stop() }
        let many = max(16, 8 * Threads.cores)
        var oneThread = Double.infinity, manyThreads = Double.infinity
        // Rounds alternate, and the fastest of each counts, so that other load on the machine
        // slows both alike.
        for _ in 0..<5 {
            Threads.configure(1)
            oneThread = min(oneThread, secondsOfShortLoops())
            Threads.configure(many)
            manyThreads = min(manyThreads, secondsOfShortLoops())
        }
        // Proportional sharing keeps the ratio near 1 (a few on a loaded machine); a pool that waits
        // for every thread in every call takes hundreds of times as long.
        XCTAssertLessThan(manyThreads / oneThread, 10,
                          "\(many) threads took \(manyThreads) s, 1 thread \(oneThread) s on \(Threads.cores) cores")
    }

    /// Seconds taken by a thousand parallel loops of some microseconds each (checked, so that
    /// every loop did its work).
    private func secondsOfShortLoops() -> Double {
        let n = 4096, loops = 1000
        let values = UnsafeMutablePointer<Float>.allocate(capacity: n)
        defer { values.deallocate() }
        values.initialize(repeating: 0, count: n)
        let start = Date()
        for _ in 0..<loops {
            parallelFor(n, grain: 256) { range in for i in range { values[i] += 1 } }
        }
        let seconds = Date().timeIntervalSince(start)
        XCTAssertTrue(UnsafeBufferPointer(start: values, count: n).allSatisfy { $0 == Float(loops) })
        return seconds
    }
}

/// A thread that keeps a core busy until stopped, like another job on the machine.
private final class BusyThread: @unchecked Sendable {
    private let stopping = Atomic<Bool>(false), stopped = DispatchSemaphore(value: 0)

    init() {
        Thread.detachNewThread { [self] in
            while !stopping.load(ordering: .relaxed) {}
            stopped.signal()
        }
    }

    func stop() {
        stopping.store(true, ordering: .relaxed)
        stopped.wait()
    }
}
