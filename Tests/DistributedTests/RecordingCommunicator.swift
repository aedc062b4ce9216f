import Distributed
import Foundation

/// A stand-in communicator: its "current collective" is set by the test (for the watchdog's tests),
/// the gradient all-reduces it is asked for are recorded (for the buckets' tests), and nothing is
/// communicated.
final class RecordingCommunicator: Communicator {
    let rank: Int
    let size: Int
    let hostName = "testhost"
    private let lock = NSLock()
    private var collective: String?

    init(rank: Int = 1, size: Int = 2) {
        self.rank = rank
        self.size = size
    }

    var currentCollective: String? {
        get { lock.lock(); defer { lock.unlock() }; return collective }
        set { lock.lock(); collective = newValue; lock.unlock() }
    }

    func broadcast(_ buffer: UnsafeMutablePointer<Float>, count: Int, root: Int) {}
    func broadcastBytes(_ bytes: inout [UInt8], root: Int) {}
    /// "allReduce OFFSET+COUNT", "start OFFSET+COUNT" (offsets from `origin`), "progress", "finish".
    var calls: [String] = []
    var origin: UnsafeMutablePointer<Float>?

    func allReduceSum(_ buffer: UnsafeMutablePointer<Float>, count: Int) { record("allReduce", buffer, count) }
    func startAllReduceSum(_ buffer: UnsafeMutablePointer<Float>, count: Int) { record("start", buffer, count) }
    func progressReductions() { calls.append("progress") }
    func finishReductions() { calls.append("finish") }

    private func record(_ what: String, _ buffer: UnsafeMutablePointer<Float>, _ count: Int) {
        calls.append("\(what) \(origin.map { buffer - $0 } ?? -1)+\(count)")
    }
    func allReduceSum(_ values: [Double]) -> [Double] { values }
    func allReduceMax(_ value: Double) -> Double { value }
    func allGather(_ send: UnsafePointer<Float>, count: Int, into receive: UnsafeMutablePointer<Float>) {}
    func barrier() {}
    func abort(code: Int32, message: String) -> Never { fatalError("the watchdog tests pass their own expiry handler") }
    func finalize() {}
}
