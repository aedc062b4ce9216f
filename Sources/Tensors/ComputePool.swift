import Dispatch
#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Worker threads that wait for work by spinning for a while, then sleep.
///
/// A step makes thousands of parallel calls of a fraction of a millisecond each (every chunk's
/// im2col and product, every BatchNorm pass), so the time a sleeping thread takes to wake up would
/// be a large part of each; a worker that has just finished one keeps polling for the next.
///
/// On a machine with more runnable threads than cores (more workers than cores, another job, more
/// ranks than cores) a worker may wait a whole time slice for a core, so no call waits for a
/// worker that has not started on it: the caller runs the parts that no worker has claimed, then
/// closes the call to workers that join late. Only as many workers as there are cores beside the
/// caller's poll or are woken for a call, and a worker that finds it was descheduled while polling
/// (another thread wanted its core) sleeps instead, so the threads that have work get the cores.
final class ComputePool: @unchecked Sendable {
    /// The current call as one word: its generation, whether it is closed, and how many workers
    /// have joined it and not finished (`Call`).
    private let call = Atomic<Int>(0)
    /// The next part to claim.
    private let nextPart = Atomic<Int>(0)
    /// Workers that are polling, and workers that have gone to sleep.
    private let polling = Atomic<Int>(0), sleeping = Atomic<Int>(0)
    private let stopping = Atomic<Bool>(false)
    /// The most workers that help with one call (poll for it or are woken for it): the cores beside
    /// the caller's, at least one.
    private let helpers: Int
    /// The most workers that poll at once: the cores beside the caller's (none on one core, where a
    /// polling worker could only take the core from the caller).
    private let pollers: Int
    private var body: ((Int) -> Void)?
    private var parts = 0
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let wake = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    /// How long an idle worker polls before it sleeps: longer than the gaps between the parallel
    /// calls of a step, short enough not to hold a core while the loader or a serial phase needs it.
    private static let spinNanoseconds: UInt64 = 1_000_000
    /// A gap between two looks at the clock while polling that only a descheduled thread sees
    /// (polls take nanoseconds; an interrupt, microseconds; another thread's time slice, a
    /// millisecond or more).
    private static let descheduledNanoseconds: UInt64 = 100_000

    /// The fields of the `call` word.
    private enum Call {
        /// Low bits: the workers running the call's parts; then the closed bit; then the generation.
        static let closed = 1 << 24, generation = 1 << 25, joined = closed - 1

        static func generation(of word: Int) -> Int { word >> 25 }
    }

    /// - Parameter cores: the cores this process may run on.
    init(workers: Int, cores: Int) {
        precondition(workers < Call.joined, "ComputePool: \(workers) workers")
        helpers = Swift.min(workers, Swift.max(1, cores - 1))
        pollers = Swift.min(workers, Swift.max(0, cores - 1))
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
        call.wrappingAdd(Call.generation, ordering: .sequentiallyConsistent)
        pthread_mutex_lock(mutex)
        pthread_cond_broadcast(wake)
        pthread_mutex_unlock(mutex)
    }

    /// Runs the parts on the caller and the workers that join in time (one caller at a time:
    /// `Threads.parallel`). Returns once every part has run; no worker touches `body` after that.
    func run(_ parts: Int, _ body: (Int) -> Void) {
        withoutActuallyEscaping(body) { body in
            self.body = body
            self.parts = parts
            nextPart.store(0, ordering: .relaxed)
            // The previous call is closed with no worker in it: the next generation starts open.
            let previous = call.load(ordering: .relaxed)
            call.store((previous & ~(Call.closed | Call.joined)) &+ Call.generation, ordering: .sequentiallyConsistent)
            wakeSleepers(Swift.min(parts - 1, helpers) - polling.load(ordering: .sequentiallyConsistent))
            runParts()
            call.wrappingAdd(Call.closed, ordering: .sequentiallyConsistent)
            var polls = 0
            while call.load(ordering: .acquiring) & Call.joined != 0 {
                polls += 1
                if polls > 4096 { sched_yield() }
            }
            self.body = nil
        }
    }

    /// Wakes up to `count` of the workers sleeping in `waitForCall` (after a call is published).
    private func wakeSleepers(_ count: Int) {
        let count = Swift.min(count, sleeping.load(ordering: .sequentiallyConsistent))
        guard count > 0 else { return }
        pthread_mutex_lock(mutex)
        for _ in 0..<count { pthread_cond_signal(wake) }
        pthread_mutex_unlock(mutex)
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
            let word = waitForCall(after: seen)
            if stopping.load(ordering: .acquiring) { return }
            seen = Call.generation(of: word)
            if join(word) {
                runParts()
                call.wrappingSubtract(1, ordering: .releasing)
            }
        }
    }

    /// Counts this worker in the call `word` was read from, unless the caller has closed it.
    private func join(_ word: Int) -> Bool {
        var word = word
        let generation = Call.generation(of: word)
        while word & Call.closed == 0 && Call.generation(of: word) == generation {
            let (exchanged, current) = call.compareExchange(expected: word, desired: word + 1, ordering: .acquiring)
            if exchanged { return true }
            word = current
        }
        return false
    }

    /// The `call` word of the next call after generation `seen`: polled (by at most `pollers`
    /// workers at once, until descheduled or the polling time is up), then slept on.
    private func waitForCall(after seen: Int) -> Int {
        if polling.wrappingAdd(1, ordering: .sequentiallyConsistent).oldValue < pollers {
            let found = poll(after: seen)
            polling.wrappingSubtract(1, ordering: .sequentiallyConsistent)
            if let found { return found }
        } else {
            polling.wrappingSubtract(1, ordering: .sequentiallyConsistent)
        }
        pthread_mutex_lock(mutex)
        sleeping.wrappingAdd(1, ordering: .sequentiallyConsistent)
        while Call.generation(of: call.load(ordering: .sequentiallyConsistent)) == seen {
            pthread_cond_wait(wake, mutex)
        }
        sleeping.wrappingSubtract(1, ordering: .sequentiallyConsistent)
        pthread_mutex_unlock(mutex)
        return call.load(ordering: .acquiring)
    }

    /// The `call` word of the next call after generation `seen`, or nil when none came in the
    /// polling time or the thread was descheduled meanwhile.
    private func poll(after seen: Int) -> Int? {
        let start = DispatchTime.now().uptimeNanoseconds
        var last = start, polls = 0
        while true {
            let word = call.load(ordering: .acquiring)
            if Call.generation(of: word) != seen { return word }
            polls += 1
            if polls & 63 == 0 {
                let now = DispatchTime.now().uptimeNanoseconds
                if now &- last > Self.descheduledNanoseconds || now &- start > Self.spinNanoseconds { return nil }
                last = now
            }
        }
    }
}
