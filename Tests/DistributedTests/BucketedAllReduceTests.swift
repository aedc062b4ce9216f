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

    /// A backward pass with blocking all-reduces of its own ("sync", a synchronised BatchNorm's).
    enum Event { case ready(Int), sync }

    /// The calls of each of `passes` armed passes through `events`, paced.
    func paced(passes: Int, bucket: Int? = 250, size: Int = 2, _ events: [Event]) -> [[String]] {
        let comm = RecordingCommunicator(rank: 0, size: size)
        comm.origin = buffer
        let reduction = BucketedAllReduce(communicator: comm, buffer: buffer, count: 1000, bucketFloats: bucket)
        reduction.paced = true
        return (0..<passes).map { _ in
            comm.calls = []
            reduction.begin()
            for event in events {
                switch event {
                case .ready(let offset): reduction.ready(from: offset)
                case .sync: reduction.synchronised()
                }
            }
            reduction.finish()
            return comm.calls
        }
    }

    func testPacedFinalGradientsStartAfterEachSynchronisationSpreadOverTheOnesLeft() {
        let passes = paced(passes: 3, [.sync, .ready(700), .sync, .sync, .ready(400), .sync, .ready(0), .sync])
        // The first pass has not counted the synchronisations yet: everything waits for finish.
        XCTAssertEqual(passes[0], Array(repeating: "progress", count: 8) + ["start 0+1000", "finish"])
        let spread = [
            "progress",                             // 5 left, nothing final
            "progress",                             // 300 final: none starts at a report
            "start 925+75", "progress",             // 300 over 4
            "start 850+75", "progress",             // 225 over 3
            "progress",
            "start 625+225", "progress",            // 450 over 2
            "progress",
            "start 0+625", "progress",              // the rest at the last one
            "finish",
        ]
        XCTAssertEqual(passes[1], spread)
        XCTAssertEqual(passes[2], spread, "the same pieces every pass")
    }

    func testSynchronisationsStartNothingUnpacedWithoutBucketsOrOnOneRank() {
        let events: [Event] = [.sync, .ready(600), .sync, .ready(0), .sync]
        XCTAssertEqual(paced(passes: 2, bucket: nil, events)[1], ["allReduce 0+1000"])
        XCTAssertEqual(paced(passes: 2, size: 1, events)[1], [])
        // Unpaced, a bucket starts at the report and synchronisations are ignored.
        let comm = RecordingCommunicator(rank: 0, size: 2)
        comm.origin = buffer
        let reduction = BucketedAllReduce(communicator: comm, buffer: buffer, count: 1000, bucketFloats: 250)
        for _ in 0..<2 {
            comm.calls = []
            reduction.begin()
            reduction.synchronised()
            reduction.ready(from: 600)
            reduction.synchronised()
            reduction.finish()
        }
        XCTAssertEqual(comm.calls, ["start 600+400", "progress", "start 0+600", "finish"])
    }

    func testOneRankCommunicatesNothing() {
        XCTAssertEqual(reduce(bucket: 10, size: 1, offsets: [600, 0]), [])
        XCTAssertEqual(reduce(bucket: nil, size: 1, offsets: [600, 0]), [])
    }
}
