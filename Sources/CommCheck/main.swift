// simclr-commcheck: exercises every collective of the communicator on known, rank-dependent data
// (counts 0, 1, 7, 1000, 4097 and an 11M-float all-reduce; then again with every call split into
// pieces of 7 elements, the path of counts above Int32.max), checks the results itself and prints
// `commcheck ok rank R of P on HOST`; otherwise it ends the job with a message and a non-zero exit.
// Run it plainly (one process, no MPI) or under mpirun. Options, mostly for the failure tests:
//
//   --watchdog S       run under a watchdog with a deadline of S seconds (it must not fire), plus a
//                      loop of 10 ms steps (all-reduce + heartbeat) before the large all-reduce
//   --steps N          the number of steps of that loop (default 50)
//   --peer-grace G     the watchdog's extra time for a rank waiting in a collective (default 5 s)
//   --hang-rank K      rank K stops making progress in the loop (its watchdog must end the job)
//   --freeze-rank K    rank K stops itself with SIGSTOP in the loop, like a lost machine (its
//                      peers' watchdogs must end the job)
//   --exit-rank K      rank K exits with code 3 after the first checks (mpirun must end the job)
//   --corrupt-rank K   rank K alters one all-reduced value before checking it (the checks must fail)
//   --time             also print the time of an in-place all-reduce of 44 MB (11M floats), the
//                      link's bandwidth, and of one float, its latency
import Distributed
import Foundation

struct Options {
    var exitRank: Int?
    var corruptRank: Int?
    var hangRank: Int?
    var freezeRank: Int?
    var peerGrace = 5.0
    var steps = 50
    var watchdogSeconds: Double?
    var time = false

    init(_ arguments: [String]) {
        var rest = arguments[...]
        func value(_ flag: String) -> String {
            guard let v = rest.popFirst() else { Options.usage("\(flag) needs a value") }
            return v
        }
        func rank(_ flag: String) -> Int {
            guard let k = Int(value(flag)) else { Options.usage("\(flag) needs a rank") }
            return k
        }
        while let flag = rest.popFirst() {
            switch flag {
            case "--exit-rank": exitRank = rank(flag)
            case "--hang-rank": hangRank = rank(flag)
            case "--corrupt-rank": corruptRank = rank(flag)
            case "--freeze-rank": freezeRank = rank(flag)
            case "--steps":
                guard let n = Int(value(flag)), n >= 0 else { Options.usage("--steps needs a count >= 0") }
                steps = n
            case "--peer-grace":
                guard let g = Double(value(flag)), g >= 0 else { Options.usage("--peer-grace needs seconds >= 0") }
                peerGrace = g
            case "--watchdog":
                let s = Double(value(flag)) ?? 0
                if !(s > 0) { Options.usage("--watchdog needs a positive number of seconds") }
                watchdogSeconds = s
            case "--time": time = true
            default: Options.usage("unknown argument \(flag)")
            }
        }
        if (hangRank != nil || freezeRank != nil) && watchdogSeconds == nil {
            Options.usage("--hang-rank and --freeze-rank need --watchdog S")
        }
    }

    static func usage(_ problem: String) -> Never {
        FileHandle.standardError.write(Data("""
            simclr-commcheck: \(problem)
            usage: simclr-commcheck [--exit-rank K] [--hang-rank K | --freeze-rank K] [--watchdog S]
                                   [--peer-grace G] [--steps N] [--corrupt-rank K] [--time]

            """.utf8))
        exit(2)
    }
}

/// Runs the checks on one communicator; any wrong value aborts the whole job with a message.
final class CommCheck {
    let comm: Communicator
    let corrupt: Bool
    var rank: Int { comm.rank }
    var size: Int { comm.size }

    init(_ comm: Communicator, corrupt: Bool) {
        self.comm = comm
        self.corrupt = corrupt
    }

    func fail(_ what: String) -> Never {
        comm.abort(code: 1, message: "commcheck FAILED rank \(rank) of \(size) on \(comm.hostName): \(what)")
    }

    /// A value that is exact in Float and differs per rank and element.
    func pattern(_ r: Int, _ i: Int) -> Float { Float(r * 10_000 + i % 5_000) }

    func broadcast(count: Int) {
        let buffer = UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1))
        defer { buffer.deallocate() }
        for root in 0..<size {
            for i in 0..<count { buffer[i] = rank == root ? pattern(root, i) : -1 }
            comm.broadcast(buffer, count: count, root: root)
            for i in 0..<count where buffer[i] != pattern(root, i) {
                fail("broadcast count \(count) root \(root): element \(i) is \(buffer[i]), expected \(pattern(root, i))")
            }
        }
    }

    func broadcastBytes() {
        for root in 0..<size {
            let expected = (0..<(1_000 + 17 * root)).map { UInt8(truncatingIfNeeded: $0 * 31 + root) }
            var bytes = rank == root ? expected : [9, 9]
            comm.broadcastBytes(&bytes, root: root)
            if bytes != expected { fail("broadcastBytes root \(root): got \(bytes.count) bytes, not root's \(expected.count)") }
        }
        var empty = rank == 0 ? [UInt8]() : [1, 2, 3]
        comm.broadcastBytes(&empty, root: 0)
        if !empty.isEmpty { fail("broadcastBytes of an empty array left \(empty.count) bytes") }
    }

    func allReduceSum(count: Int) {
        let buffer = UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1))
        defer { buffer.deallocate() }
        // (rank + 1) * small integer: every partial sum is an exact Float, whatever the order.
        let weight = Float(rank + 1)
        for i in 0..<count { buffer[i] = weight * Float(i % 1_000) }
        comm.allReduceSum(buffer, count: count)
        if corrupt && count > 1 { buffer[count / 2] += 1 }
        let ranksSum = Float(size * (size + 1) / 2)
        for i in 0..<count where buffer[i] != ranksSum * Float(i % 1_000) {
            fail("allReduceSum count \(count): element \(i) is \(buffer[i]), expected \(ranksSum * Float(i % 1_000))")
        }
    }

    /// A gradient buffer reduced bucket by bucket, as a backward pass does it: offsets reported from
    /// the end towards the start, a blocking all-reduce (a synchronised BatchNorm's) and progress
    /// between them, then the wait. Paced, twice: the second pass starts its pieces after the
    /// blocking all-reduces.
    func bucketedAllReduce(count: Int, bucket: Int, paced: Bool = false) {
        let buffer = UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1))
        defer { buffer.deallocate() }
        let weight = Float(rank + 1)
        let reduction = BucketedAllReduce(communicator: comm, buffer: buffer, count: count, bucketFloats: bucket)
        reduction.paced = paced
        for pass in 0..<(paced ? 2 : 1) {
            var statistic = [Float(rank)], reductions = 0
            for i in 0..<count { buffer[i] = weight * Float(i % 1_000) }
            reduction.begin()
            for offset in stride(from: count, through: 0, by: -max(1, count / 13)) {
                reduction.ready(from: offset)
                comm.allReduceSum(&statistic, count: 1)
                reduction.synchronised()
                reductions += 1
            }
            reduction.finish()
            if corrupt && count > 1 { buffer[count / 3] += 1 }
            let ranksSum = Float(size * (size + 1) / 2)
            for i in 0..<count where buffer[i] != ranksSum * Float(i % 1_000) {
                fail("bucketed allReduceSum count \(count) bucket \(bucket) paced \(paced) pass \(pass): element \(i) "
                     + "is \(buffer[i]), expected \(ranksSum * Float(i % 1_000))")
                break
            }
            // The first reduction of 1 float gives 0 + 1 + ... + (size - 1); each later one multiplies by size.
            let expected = Float((0..<size).reduce(0, +)) * pow(Float(size), Float(reductions - 1))
            if statistic[0] != expected { fail("the all-reduces between buckets gave \(statistic[0]), expected \(expected)") }
        }
    }

    func allReduceDoubles() {
        let mine = [Double(rank), 1, Double(rank * rank) + 0.25, -1e300 * Double(rank % 2)]
        let got = comm.allReduceSum(mine)
        let expected = (0..<size).reduce(into: [0.0, 0, 0, 0]) { sum, r in
            sum[0] += Double(r); sum[1] += 1; sum[2] += Double(r * r) + 0.25; sum[3] += -1e300 * Double(r % 2)
        }
        if got != expected { fail("allReduceSum([Double]): \(got), expected \(expected)") }
        if !comm.allReduceSum([]).isEmpty { fail("allReduceSum of no values returned values") }
    }

    func allReduceMax() {
        func value(_ r: Int) -> Double { Double((r * 7 + 3) % (size + 2)) - 0.5 }
        let got = comm.allReduceMax(value(rank))
        let expected = (0..<size).map(value).max()!
        if got != expected { fail("allReduceMax: \(got), expected \(expected)") }
    }

    func allGather(count: Int, inPlace: Bool) {
        let receive = UnsafeMutablePointer<Float>.allocate(capacity: max(size * count, 1))
        let send = UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1))
        defer { receive.deallocate(); send.deallocate() }
        receive.initialize(repeating: .nan, count: size * count)
        let source = inPlace ? receive + rank * count : send
        for i in 0..<count { source[i] = pattern(rank, i) }
        comm.allGather(source, count: count, into: receive)
        for r in 0..<size {
            for i in 0..<count where receive[r * count + i] != pattern(r, i) {
                fail("allGather count \(count)\(inPlace ? " in place" : ""): row \(r) element \(i) is "
                     + "\(receive[r * count + i]), expected \(pattern(r, i))")
            }
        }
    }

    /// Every collective over counts that include zero, one, odd and page-crossing lengths.
    func all(counts: [Int]) {
        for count in counts {
            broadcast(count: count)
            allReduceSum(count: count)
            for bucket in [1, 300, 1 << 20] {
                bucketedAllReduce(count: count, bucket: bucket)
                bucketedAllReduce(count: count, bucket: bucket, paced: true)
            }
            allGather(count: count, inPlace: false)
            allGather(count: count, inPlace: true)
        }
        broadcastBytes()
        allReduceDoubles()
        allReduceMax()
        comm.barrier()
    }

    /// Median time of an in-place all-reduce of `count` floats, in seconds.
    func timeAllReduce(count: Int, repeats: Int) -> (median: Double, min: Double) {
        let buffer = UnsafeMutablePointer<Float>.allocate(capacity: count)
        defer { buffer.deallocate() }
        buffer.initialize(repeating: 1, count: count)
        comm.allReduceSum(buffer, count: count)
        var times = [Double]()
        for _ in 0..<repeats {
            comm.barrier()
            let start = DispatchTime.now().uptimeNanoseconds
            comm.allReduceSum(buffer, count: count)
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9)
        }
        // The slowest rank's time is the step's time.
        let slowest = times.map { comm.allReduceMax($0) }.sorted()
        return (slowest[slowest.count / 2], slowest[0])
    }
}

let options = Options(Array(CommandLine.arguments.dropFirst()))
let comm = CommunicatorFactory.make()
let check = CommCheck(comm, corrupt: options.corruptRank == comm.rank)
let watchdog = options.watchdogSeconds.map { Watchdog(communicator: comm, deadline: $0, peerGrace: options.peerGrace) }
watchdog?.start()

let smallCounts = [0, 1, 7, 1_000, 4_097]
check.all(counts: smallCounts)
watchdog?.heartbeat()

if let k = options.exitRank, k == comm.rank {
    FileHandle.standardError.write(Data("commcheck: rank \(k) exits with code 3 (--exit-rank)\n".utf8))
    exit(3)
}

if options.hangRank != nil || options.freezeRank != nil || options.watchdogSeconds != nil {
    FileHandle.standardError.write(Data("commcheck: rank \(comm.rank) starts \(options.steps) steps\n".utf8))
    for step in 0..<options.steps {
        if step == 5 && options.hangRank == comm.rank {
            FileHandle.standardError.write(Data("commcheck: rank \(comm.rank) stops making progress (--hang-rank)\n".utf8))
            while true { sleep(1_000) }
        }
        if step == 5 && options.freezeRank == comm.rank {
            FileHandle.standardError.write(Data("commcheck: rank \(comm.rank) stops itself with SIGSTOP (--freeze-rank)\n".utf8))
            raise(SIGSTOP)
        }
        check.allReduceSum(count: 1_000)
        watchdog?.heartbeat()
        usleep(10_000)
    }
}

// About a ResNet-18 gradient, with an odd length; then in 1 MB buckets.
check.allReduceSum(count: 11_000_003)
check.bucketedAllReduce(count: 11_000_003, bucket: 1 << 18)
check.bucketedAllReduce(count: 11_000_003, bucket: 1 << 18, paced: true)
watchdog?.heartbeat()

// Split every call into pieces of 7 elements, so that the paths for counts above Int32.max run.
if let mpi = comm as? MPICommunicator {
    mpi.maxElementsPerCall = 7
    check.all(counts: smallCounts)
    mpi.maxElementsPerCall = Int(Int32.max)
    watchdog?.heartbeat()
}

if options.time {
    let floats = 11_000_000
    let (median, fastest) = check.timeAllReduce(count: floats, repeats: 5)
    if comm.rank == 0 {
        print(String(format: "commcheck allreduce %.1f MB over %d ranks: median %.1f ms, min %.1f ms (5 runs)",
                     Double(floats * 4) / 1e6, comm.size, median * 1e3, fastest * 1e3))
    }
    let (oneFloat, _) = check.timeAllReduce(count: 1, repeats: 50)
    if comm.rank == 0 {
        print(String(format: "commcheck allreduce 1 float over %d ranks: median %.1f us (50 runs)", comm.size, oneFloat * 1e6))
    }
}

watchdog?.stop()
comm.barrier()
print("commcheck ok rank \(comm.rank) of \(comm.size) on \(comm.hostName)")
comm.finalize()
