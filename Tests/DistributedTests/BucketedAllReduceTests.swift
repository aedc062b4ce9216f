import Distributed
import XCTest

/// Which reductions the buckets start, and when (the real collectives are checked under mpirun by
/// `simclr-commcheck` and by the pretraining runs of `DistributedPretrainTests`).
final class BucketedAllReduceTests: XCTestCase {
    let buffer = UnsafeMutablePointer<Float>.allocate(capacity: 1000)

    deinit { buffer.deallocate() }

    func reduce(bucket: Int?, size: Int = 2, begin: Bool = true, offsets: [Int]) -> [String] {
        let comm = RecordingCommunicator(rank: 0, size: size)
        comm.origin = buffer
        let reduction = BucketedAllReduce(communicator: comm, buffer: buffer, count: 1000, bucketFloats: bucket)
        if begin { reduction.begin() }
        for offset in offsets { reduction.ready(from: offset) }
        reduction.finish()
        return comm.calls
    }

    func testABucketStartsOnceEnoughFinalGradientsWait() {
        XCTAssertEqual(reduce(bucket: 250, offsets: [1000, 900, 700, 400, 100, 0]), [
            "progress", "progress",            // 0, then 100 floats final: below a bucket
            "start 700+300", "progress",
            "start 400+300", "progress",
            "start 100+300", "progress",
            "progress",                        // the last 100 wait for finish
            "start 0+100", "finish",
        ])
    }

    func testAReportedOffsetOfTheWholeBufferLeavesNothingForFinish() {
        XCTAssertEqual(reduce(bucket: 1, offsets: [600, 0]),
                       ["start 600+400", "progress", "start 0+600", "progress", "finish"])
    }

    func testWithoutBucketsOrBeforeBeginItIsOneAllReduceAfterTheBackwardPass() {
        XCTAssertEqual(reduce(bucket: nil, offsets: [600, 0]), ["allReduce 0+1000"])
        XCTAssertEqual(reduce(bucket: 10, begin: false, offsets: [600, 0]), ["allReduce 0+1000"])
    }

    func testOneRankCommunicatesNothing() {
        XCTAssertEqual(reduce(bucket: 10, size: 1, offsets: [600, 0]), [])
        XCTAssertEqual(reduce(bucket: nil, size: 1, offsets: [600, 0]), [])
    }
}
