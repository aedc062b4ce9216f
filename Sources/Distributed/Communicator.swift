#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The collectives a data-parallel trainer needs, over the P ranks of one job.
///
/// Every rank calls the same collectives in the same order with the same counts; each call returns
/// when this rank's part of it is complete. All calls except `abort` and `currentCollective` come
/// from one thread (the one that created the communicator); `abort` may come from any thread (the
/// watchdog's). Implementations: `MPICommunicator` (Open MPI) and `SingleProcessCommunicator`
/// (size 1, no MPI); `CommunicatorFactory.make()` picks one from how the process was started.
public protocol Communicator: AnyObject {
    /// This process's index, `0..<size`.
    var rank: Int { get }
    /// The number of processes in the job.
    var size: Int { get }
    /// The name of the machine this rank runs on (for messages).
    var hostName: String { get }
    /// The name of the collective this rank is inside right now, nil when it is not communicating.
    /// Safe to read from any thread: the watchdog uses it to tell a rank that waits for a peer from
    /// a rank that is stuck itself.
    var currentCollective: String? { get }

    /// Copies `count` floats from `root`'s buffer into every other rank's buffer.
    func broadcast(_ buffer: UnsafeMutablePointer<Float>, count: Int, root: Int)
    /// Copies `root`'s bytes to every rank; the other ranks' arrays take `root`'s length.
    func broadcastBytes(_ bytes: inout [UInt8], root: Int)
    /// Replaces `buffer[0..<count]` on every rank by its element-wise sum over all ranks.
    func allReduceSum(_ buffer: UnsafeMutablePointer<Float>, count: Int)
    /// Starts replacing `buffer[0..<count]` on every rank by its element-wise sum over all ranks and
    /// returns without waiting; the buffer must be left alone until `finishReductions` returns.
    /// Other collectives may run meanwhile (every rank keeps the same order of calls).
    func startAllReduceSum(_ buffer: UnsafeMutablePointer<Float>, count: Int)
    /// Lets the started reductions advance without waiting for them (Open MPI moves a non-blocking
    /// collective on only inside its own calls).
    func progressReductions()
    /// Returns once every started reduction is complete.
    func finishReductions()
    /// The element-wise sum over all ranks of `values` (same length on every rank), in double
    /// precision: for losses, counters and metrics.
    func allReduceSum(_ values: [Double]) -> [Double]
    /// The largest `value` over all ranks.
    func allReduceMax(_ value: Double) -> Double
    /// Gathers `count` floats from every rank into `receive`, rank-major:
    /// `receive: [size, count]`, row r holding rank r's `send`.
    func allGather(_ send: UnsafePointer<Float>, count: Int, into receive: UnsafeMutablePointer<Float>)
    /// Returns once every rank has called it.
    func barrier()
    /// Writes `message` as one line to standard error and ends the whole job with exit `code`
    /// (every rank, not only this one). Callable from any thread.
    func abort(code: Int32, message: String) -> Never
    /// Ends communication; call once, after the last collective, on every rank.
    func finalize()
}

extension Communicator {
    /// Without non-blocking collectives, a started reduction is done at once.
    public func startAllReduceSum(_ buffer: UnsafeMutablePointer<Float>, count: Int) {
        allReduceSum(buffer, count: count)
    }
    public func progressReductions() {}
    public func finishReductions() {}
}

/// The machine's host name, as `gethostname` reports it ("unknown" if it cannot).
func localHostName() -> String {
    var name = [CChar](repeating: 0, count: 256)
    guard gethostname(&name, name.count - 1) == 0 else { return "unknown" }
    return String(cString: name)
}

/// Writes `text` plus a newline to fd 2 in one `write`, so that lines from several ranks sharing a
/// terminal do not interleave (Swift 6 mode rejects the `stderr` global).
func writeLineToStandardError(_ text: String) {
    var line = Array(text.utf8)
    if line.last != UInt8(ascii: "\n") { line.append(UInt8(ascii: "\n")) }
    line.withUnsafeBytes { bytes in
        var offset = 0
        while offset < bytes.count {
            let written = write(2, bytes.baseAddress! + offset, bytes.count - offset)
            if written <= 0 { return }
            offset += written
        }
    }
}
