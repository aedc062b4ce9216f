import Distributed
import XCTest

/// A job of one process: every collective leaves the data as a P = 1 job of MPI would.
final class SingleProcessCommunicatorTests: XCTestCase {
    func testIdentityAndSize() {
        let comm = SingleProcessCommunicator()
        XCTAssertEqual(comm.rank, 0)
        XCTAssertEqual(comm.size, 1)
        XCTAssertFalse(comm.hostName.isEmpty)
        XCTAssertNil(comm.currentCollective)
    }

    func testCollectivesOnOneRankLeaveTheDataAsItIs() {
        let comm = SingleProcessCommunicator()
        var values: [Float] = [1.5, -2, 3]
        values.withUnsafeMutableBufferPointer { buffer in
            comm.broadcast(buffer.baseAddress!, count: 3, root: 0)
            comm.allReduceSum(buffer.baseAddress!, count: 3)
        }
        XCTAssertEqual(values, [1.5, -2, 3])

        var bytes: [UInt8] = [7, 8, 9]
        comm.broadcastBytes(&bytes, root: 0)
        XCTAssertEqual(bytes, [7, 8, 9])

        XCTAssertEqual(comm.allReduceSum([1.25, -3]), [1.25, -3])
        XCTAssertEqual(comm.allReduceSum([]), [])
        XCTAssertEqual(comm.allReduceMax(-4.5), -4.5)
        comm.barrier()
        comm.finalize()
    }

    func testAllGatherCopiesTheOnlyRow() {
        let comm = SingleProcessCommunicator()
        let send: [Float] = [1, 2, 3, 4, 5]
        var receive = [Float](repeating: .nan, count: 5)
        send.withUnsafeBufferPointer { s in
            receive.withUnsafeMutableBufferPointer { r in comm.allGather(s.baseAddress!, count: 5, into: r.baseAddress!) }
        }
        XCTAssertEqual(receive, send)

        // In place: the send buffer is the rank's own row of the receive buffer.
        receive.withUnsafeMutableBufferPointer { r in
            comm.allGather(UnsafePointer(r.baseAddress!), count: 5, into: r.baseAddress!)
        }
        XCTAssertEqual(receive, send)
    }
}
