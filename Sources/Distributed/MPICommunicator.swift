import CMPI
import Foundation

/// The communicator of a job started by `mpirun`: Open MPI over `MPI_COMM_WORLD`.
///
/// The only file that imports MPI. MPI is initialised with `MPI_THREAD_FUNNELED`: every collective
/// comes from the thread that created this object (checked), while training threads never call
/// MPI. The one exception is `abort`, which the watchdog calls from its own thread while the main
/// thread may be blocked in a collective; Open MPI hands an abort to its runtime's own progress
/// thread, and a fallback `_exit` ends this rank even if that were to stall.
///
/// Errors are returned rather than fatal inside MPI (`MPI_ERRORS_RETURN`), so that a failing call
/// ends the job with a line naming the call, the rank and the host. Counts above `Int32.max` are
/// split into several calls. Create at most one per process and call `finalize()` explicitly at
/// the end (not from `deinit`: ARC may release the object before the last collective's caller is done).
public final class MPICommunicator: Communicator {
    public let rank: Int
    public let size: Int
    public let hostName: String

    /// The largest element count passed to one MPI call; longer buffers are split. MPI counts are
    /// `Int32`; lowering this (in tests) exercises the splitting on small buffers.
    public var maxElementsPerCall = Int(Int32.max) {
        didSet { precondition(maxElementsPerCall > 0 && maxElementsPerCall <= Int(Int32.max),
                              "maxElementsPerCall \(maxElementsPerCall) outside 1...Int32.max") }
    }

    private let world: MPI_Comm
    private let creatingThread: pthread_t
    private let stateLock = NSLock()
    private var collective: String?
    private var finalized = false
    /// The started reductions not yet known to be complete.
    private var requests: [MPI_Request?] = []

    /// How long `abort` lets Open MPI take the job down before this rank exits by itself.
    private static let abortFallbackSeconds: UInt32 = 10

    /// Initialises MPI. Requires a process started by `mpirun` (or a singleton, which needs Open
    /// MPI's runtime); `CommunicatorFactory.make()` decides which communicator a process gets.
    public init() {
        var alreadyInitialized: Int32 = 0
        MPI_Initialized(&alreadyInitialized)
        precondition(alreadyInitialized == 0, "MPICommunicator: MPI is already initialised; create one communicator per process")

        var provided: Int32 = 0
        let rc = MPI_Init_thread(nil, nil, Int32(MPI_THREAD_FUNNELED), &provided)
        guard rc == MPI_SUCCESS else {
            writeLineToStandardError("simclr: MPI_Init_thread failed (error \(rc)); is this process started by mpirun?")
            exit(1)
        }
        world = cmpi_comm_world()
        creatingThread = pthread_self()
        hostName = localHostName()
        MPI_Comm_set_errhandler(world, cmpi_errors_return())

        var r: Int32 = 0, s: Int32 = 0
        MPI_Comm_rank(world, &r)
        MPI_Comm_size(world, &s)
        rank = Int(r)
        size = Int(s)
        if provided < Int32(MPI_THREAD_FUNNELED) {
            abort(code: 1, message: "simclr: Open MPI granted thread level \(provided), below MPI_THREAD_FUNNELED")
        }
    }

    public var currentCollective: String? {
        stateLock.lock()
        defer { stateLock.unlock() }
        return collective
    }

    public func broadcast(_ buffer: UnsafeMutablePointer<Float>, count: Int, root: Int) {
        precondition(count >= 0 && (0..<size).contains(root), "broadcast: count \(count), root \(root) of \(size) ranks")
        collectiveCall("broadcast") {
            forEachChunk(of: count, "MPI_Bcast") { offset, n in
                MPI_Bcast(buffer + offset, n, cmpi_float(), Int32(root), world)
            }
        }
    }

    public func broadcastBytes(_ bytes: inout [UInt8], root: Int) {
        precondition((0..<size).contains(root), "broadcastBytes: root \(root) of \(size) ranks")
        collectiveCall("broadcastBytes") {
            // The length goes first, so that the other ranks can size their arrays.
            var length = Int64(bytes.count)
            check(MPI_Bcast(&length, 1, cmpi_int64(), Int32(root), world), "MPI_Bcast")
            if rank != root { bytes = [UInt8](repeating: 0, count: Int(length)) }
            bytes.withUnsafeMutableBytes { raw in
                guard let base = raw.baseAddress else { return }
                forEachChunk(of: raw.count, "MPI_Bcast") { offset, n in
                    MPI_Bcast(base + offset, n, cmpi_byte(), Int32(root), world)
                }
            }
        }
    }

    public func allReduceSum(_ buffer: UnsafeMutablePointer<Float>, count: Int) {
        precondition(count >= 0, "allReduceSum: negative count \(count)")
        collectiveCall("allReduceSum") {
            forEachChunk(of: count, "MPI_Allreduce") { offset, n in
                MPI_Allreduce(cmpi_in_place(), buffer + offset, n, cmpi_float(), cmpi_sum(), world)
            }
        }
    }

    public func startAllReduceSum(_ buffer: UnsafeMutablePointer<Float>, count: Int) {
        precondition(count >= 0, "startAllReduceSum: negative count \(count)")
        collectiveCall("startAllReduceSum") {
            forEachChunk(of: count, "MPI_Iallreduce") { offset, n in
                var request: MPI_Request?
                defer { requests.append(request) }
                return MPI_Iallreduce(cmpi_in_place(), buffer + offset, n, cmpi_float(), cmpi_sum(), world, &request)
            }
        }
    }

    public func progressReductions() {
        guard !requests.isEmpty else { return }
        collectiveCall("progressReductions") {
            var done: Int32 = 0
            check(MPI_Testall(Int32(requests.count), &requests, &done, cmpi_statuses_ignore()), "MPI_Testall")
            if done != 0 { requests.removeAll(keepingCapacity: true) }
        }
    }

    public func finishReductions() {
        guard !requests.isEmpty else { return }
        // Named for the watchdog: a rank in here waits for its peers' share of the reductions.
        collectiveCall("finishReductions") {
            check(MPI_Waitall(Int32(requests.count), &requests, cmpi_statuses_ignore()), "MPI_Waitall")
            requests.removeAll(keepingCapacity: true)
        }
    }

    public func allReduceSum(_ values: [Double]) -> [Double] {
        var result = values
        collectiveCall("allReduceSum") {
            result.withUnsafeMutableBufferPointer { buffer in
                guard let base = buffer.baseAddress else { return }
                forEachChunk(of: buffer.count, "MPI_Allreduce") { offset, n in
                    MPI_Allreduce(cmpi_in_place(), base + offset, n, cmpi_double(), cmpi_sum(), world)
                }
            }
        }
        return result
    }

    public func allReduceMax(_ value: Double) -> Double {
        var result = value
        collectiveCall("allReduceMax") {
            check(MPI_Allreduce(cmpi_in_place(), &result, 1, cmpi_double(), cmpi_max(), world), "MPI_Allreduce")
        }
        return result
    }

    public func allGather(_ send: UnsafePointer<Float>, count: Int, into receive: UnsafeMutablePointer<Float>) {
        precondition(count >= 0, "allGather: negative count \(count)")
        collectiveCall("allGather") {
            let ownRow = receive + rank * count
            if count <= maxElementsPerCall {
                // MPI forbids overlapping send and receive buffers unless the send is MPI_IN_PLACE.
                let source = send == UnsafePointer(ownRow) ? UnsafeRawPointer(cmpi_in_place()) : UnsafeRawPointer(send)
                check(MPI_Allgather(source, Int32(count), cmpi_float(), receive, Int32(count), cmpi_float(), world),
                      "MPI_Allgather")
                return
            }
            // A row longer than one call can carry: each rank broadcasts its row in chunks. Rows
            // of this size (8 GB) make the extra latency irrelevant.
            if send != UnsafePointer(ownRow) { ownRow.update(from: send, count: count) }
            for root in 0..<size {
                let row = receive + root * count
                forEachChunk(of: count, "MPI_Bcast") { offset, n in
                    MPI_Bcast(row + offset, n, cmpi_float(), Int32(root), world)
                }
            }
        }
    }

    public func barrier() {
        collectiveCall("barrier") {
            check(MPI_Barrier(world), "MPI_Barrier")
        }
    }

    public func abort(code: Int32, message: String) -> Never {
        writeLineToStandardError(message)
        stateLock.lock()
        let mpiActive = !finalized
        stateLock.unlock()
        if mpiActive {
            let fallback = Thread {
                sleep(MPICommunicator.abortFallbackSeconds)
                _exit(code)
            }
            fallback.start()
            MPI_Abort(world, code)
        }
        _exit(code)
    }

    public func finalize() {
        precondition(pthread_equal(pthread_self(), creatingThread) != 0,
                     "MPICommunicator.finalize must run on the thread that created the communicator")
        stateLock.lock()
        let wasFinalized = finalized
        finalized = true
        stateLock.unlock()
        precondition(requests.isEmpty, "MPICommunicator.finalize with reductions started and not finished")
        if !wasFinalized { check(MPI_Finalize(), "MPI_Finalize") }
    }

    /// Runs one collective, recording its name for the watchdog and checking the FUNNELED rule.
    private func collectiveCall(_ name: String, _ body: () -> Void) {
        precondition(pthread_equal(pthread_self(), creatingThread) != 0,
                     "MPICommunicator.\(name) called from a thread other than the one that created it (MPI_THREAD_FUNNELED)")
        stateLock.lock()
        precondition(!finalized, "MPICommunicator.\(name) called after finalize()")
        collective = name
        stateLock.unlock()
        body()
        stateLock.lock()
        collective = nil
        stateLock.unlock()
    }

    /// Calls `call(offset, n)` over `0..<count` in pieces of at most `maxElementsPerCall`, checking each.
    private func forEachChunk(of count: Int, _ what: String, _ call: (Int, Int32) -> Int32) {
        var offset = 0
        while offset < count {
            let n = min(maxElementsPerCall, count - offset)
            check(call(offset, Int32(n)), what)
            offset += n
        }
    }

    /// Ends the job with a line naming the failed call, this rank and its host, unless `code` is success.
    private func check(_ code: Int32, _ what: String) {
        if code == MPI_SUCCESS { return }
        var text = [CChar](repeating: 0, count: Int(MPI_MAX_ERROR_STRING) + 1)
        var length: Int32 = 0
        MPI_Error_string(code, &text, &length)
        abort(code: 1, message: "simclr: rank \(rank) on host \(hostName): \(what) failed: \(String(cString: text))")
    }
}
