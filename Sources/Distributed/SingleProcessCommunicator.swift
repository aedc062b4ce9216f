#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The communicator of a job of one process: every collective is the identity (a gather copies),
/// and nothing touches MPI, so a plain run needs no `mpirun`, no daemon and no ssh.
public final class SingleProcessCommunicator: Communicator {
    public let rank = 0
    public let size = 1
    public let hostName: String
    /// Always nil: a lone process never waits for a peer.
    public var currentCollective: String? { nil }

    public init() {
        hostName = localHostName()
    }

    public func broadcast(_ buffer: UnsafeMutablePointer<Float>, count: Int, root: Int) {
        precondition(root == 0 && count >= 0, "broadcast: root \(root) count \(count) in a job of one process")
    }

    public func broadcastBytes(_ bytes: inout [UInt8], root: Int) {
        precondition(root == 0, "broadcastBytes: root \(root) in a job of one process")
    }

    public func allReduceSum(_ buffer: UnsafeMutablePointer<Float>, count: Int) {
        precondition(count >= 0, "allReduceSum: negative count \(count)")
    }

    public func allReduceSum(_ values: [Double]) -> [Double] { values }

    public func allReduceMax(_ value: Double) -> Double { value }

    public func allGather(_ send: UnsafePointer<Float>, count: Int, into receive: UnsafeMutablePointer<Float>) {
        precondition(count >= 0, "allGather: negative count \(count)")
        // `update(from:)` requires disjoint buffers; a gather in place is already complete.
        if UnsafePointer(receive) != send { receive.update(from: send, count: count) }
    }

    public func barrier() {}

    public func abort(code: Int32, message: String) -> Never {
        writeLineToStandardError(message)
        // `_exit`, not `exit`: abort may come from the watchdog thread while the main thread holds
        // locks that atexit handlers would wait for.
        _exit(code)
    }

    public func finalize() {}
}
