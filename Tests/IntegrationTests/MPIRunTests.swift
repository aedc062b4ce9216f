import Distributed
import Foundation
import TestSupport
import XCTest

/// `simclr-commcheck` under real mpirun runs on this machine: every collective on known data with
/// 1, 2 and 3 ranks, and what happens when a rank exits, hangs or freezes. Time bounds are
/// failure-detection bounds (the alternative is hanging forever), not speed benchmarks.
final class MPIRunTests: XCTestCase {
    /// Shared memory between local ranks; no core binding (ranks run threads); ranks yield when
    /// idle, because the two cores are shared with everything else.
    let localOptions = ["--bind-to", "none", "--mca", "btl", "self,vader", "--mca", "mpi_yield_when_idle", "1"]

    func mpirun(np: Int, oversubscribe: Bool = false, _ arguments: [String], timeout: Double = 60,
                file: StaticString = #filePath, line: UInt = #line) throws -> (status: Int32, seconds: Double, output: String) {
        let binary = try BuiltProduct.path("simclr-commcheck")
        let command = ["mpirun", "-np", "\(np)"] + (oversubscribe ? ["--oversubscribe"] : []) + localOptions
            + [binary] + arguments
        return try ChildProcess.run(command, environment: BuiltProduct.mpiEnvironment(), timeout: timeout,
                                    file: file, line: line)
    }

    func assertAllRanksOK(_ result: (status: Int32, seconds: Double, output: String), size: Int,
                          file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(result.status, 0, result.output, file: file, line: line)
        for rank in 0..<size {
            XCTAssertTrue(result.output.contains("commcheck ok rank \(rank) of \(size) on "),
                          "rank \(rank) did not report:\n\(result.output)", file: file, line: line)
        }
    }

    func testAPlainRunIsOneProcessWithoutMPI() throws {
        let binary = try BuiltProduct.path("simclr-commcheck")
        let result = try ChildProcess.run([binary], environment: BuiltProduct.plainEnvironment(), timeout: 60)
        assertAllRanksOK(result, size: 1)
    }

    func testTwoRanks() throws {
        assertAllRanksOK(try mpirun(np: 2, []), size: 2)
    }

    func testThreeRanksOnTwoCoresUnderAWatchdog() throws {
        // The watchdog runs through every check and must not fire.
        assertAllRanksOK(try mpirun(np: 3, oversubscribe: true, ["--watchdog", "30"]), size: 3)
    }

    func testTheChecksCatchAWrongResult() throws {
        let result = try mpirun(np: 2, ["--corrupt-rank", "1"])
        XCTAssertNotEqual(result.status, 0, result.output)
        XCTAssertTrue(result.output.contains("commcheck FAILED rank 1 of 2"), result.output)
        XCTAssertFalse(result.output.contains("commcheck ok"), result.output)
    }

    func testARankThatExitsEndsTheJob() throws {
        let result = try mpirun(np: 2, ["--exit-rank", "1"])
        XCTAssertNotEqual(result.status, 0, result.output)
        XCTAssertLessThan(result.seconds, 20, "mpirun took \(result.seconds) s to notice a rank that exited")
        XCTAssertTrue(result.output.contains("rank 1 exits with code 3"), result.output)
        XCTAssertFalse(result.output.contains("commcheck ok"), result.output)
    }

    func testTheWatchdogOfAHungRankNamesItAndEndsTheJob() throws {
        let result = try mpirun(np: 3, oversubscribe: true, ["--hang-rank", "2", "--watchdog", "2"])
        XCTAssertEqual(result.status, Watchdog.exitCode, result.output)
        XCTAssertLessThan(result.seconds, 20, "the job took \(result.seconds) s to end")
        XCTAssertTrue(result.output.contains("simclr: rank 2 on host "), result.output)
        XCTAssertTrue(result.output.contains("made no progress for"), result.output)
        XCTAssertTrue(result.output.contains("outside communication (this rank itself is stuck); aborting the job"),
                      result.output)
    }

    func testThePeersOfAFrozenRankEndTheJob() throws {
        // Rank 0 is stopped (SIGSTOP), as if its machine were gone: only rank 1's watchdog can act,
        // from its own thread, while rank 1's main thread is blocked inside MPI_Allreduce.
        let result = try mpirun(np: 2, ["--freeze-rank", "0", "--watchdog", "2", "--peer-grace", "1"])
        XCTAssertEqual(result.status, Watchdog.exitCode, result.output)
        XCTAssertLessThan(result.seconds, 20, "the job took \(result.seconds) s to end")
        XCTAssertTrue(result.output.contains("simclr: rank 1 on host "), result.output)
        XCTAssertTrue(result.output.contains("while waiting in allReduceSum (a peer is hung or the network is lost)"),
                      result.output)
    }
}
