import Distributed
import Foundation

/// A stand-in communicator for the watchdog's tests: its "current collective" is set by the test,
/// and an abort is recorded instead of ending the process.
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
    func allReduceSum(_ buffer: UnsafeMutablePointer<Float>, count: Int) {}
    func allReduceSum(_ values: [Double]) -> [Double] { values }
    func allReduceMax(_ value: Double) -> Double { value }
    func allGather(_ send: UnsafePointer<Float>, count: Int, into receive: UnsafeMutablePointer<Float>) {}
    func barrier() {}
    func abort(code: Int32, message: String) -> Never { fatalError("the watchdog tests pass their own expiry handler") }
    func finalize() {}
}
