import Distributed
import Foundation
import XCTest

/// The watchdog in-process, with a stand-in communicator and a handler that records the expiry
/// instead of aborting. Lower time bounds are exact (the watchdog cannot fire early); upper bounds
/// are generous because the machine is shared.
final class WatchdogTests: XCTestCase {
    /// When the watchdog fired, with which message.
    final class Expiry {
        private let lock = NSLock()
        private var fired: (message: String, at: Date)?
        let expectation: XCTestExpectation

        init(_ test: XCTestCase) { expectation = test.expectation(description: "watchdog fires") }

        func record(_ message: String) {
            lock.lock()
            fired = (message, Date())
            lock.unlock()
            expectation.fulfill()
        }

        var message: String? { lock.lock(); defer { lock.unlock() }; return fired?.message }
        var at: Date? { lock.lock(); defer { lock.unlock() }; return fired?.at }
    }

    func testFiresWithoutHeartbeatsAndNamesRankAndHost() {
        let expiry = Expiry(self)
        let watchdog = Watchdog(communicator: RecordingCommunicator(rank: 1), deadline: 0.2, onExpiry: expiry.record)
        let start = Date()
        watchdog.start()
        wait(for: [expiry.expectation], timeout: 10)
        watchdog.stop()
        XCTAssertGreaterThanOrEqual(expiry.at!.timeIntervalSince(start), 0.2)
        let message = expiry.message ?? ""
        XCTAssertTrue(message.hasPrefix("simclr: rank 1 on host testhost made no progress for "), message)
        XCTAssertTrue(message.contains("outside communication"), message)
        XCTAssertTrue(message.hasSuffix("; aborting the job"), message)
        XCTAssertFalse(message.contains("\n"), "one line: \(message)")
    }

    func testHeartbeatsKeepItQuietAndStopEndsIt() {
        let expiry = Expiry(self)
        expiry.expectation.isInverted = true
        let watchdog = Watchdog(communicator: RecordingCommunicator(), deadline: 1.0, onExpiry: expiry.record)
        watchdog.start()
        for _ in 0..<40 {
            usleep(20_000)
            watchdog.heartbeat()
        }
        watchdog.stop()
        wait(for: [expiry.expectation], timeout: 0.2)
        XCTAssertNil(expiry.message)
    }

    func testPauseSuspendsTheDeadlineAndResumeRestartsIt() {
        let expiry = Expiry(self)
        let watchdog = Watchdog(communicator: RecordingCommunicator(), deadline: 0.2, onExpiry: expiry.record)
        watchdog.start()
        watchdog.whilePaused {
            watchdog.pause()
            usleep(300_000)
            watchdog.resume()
            usleep(300_000)
        }
        XCTAssertNil(expiry.message, "fired while paused")
        let resumed = Date()
        wait(for: [expiry.expectation], timeout: 10)
        watchdog.stop()
        XCTAssertGreaterThanOrEqual(expiry.at!.timeIntervalSince(resumed), 0.2)
    }

    func testARankWaitingInACollectiveGetsTheGraceAndSaysSo() {
        let expiry = Expiry(self)
        let comm = RecordingCommunicator(rank: 0)
        comm.currentCollective = "allReduceSum"
        let watchdog = Watchdog(communicator: comm, deadline: 0.2, peerGrace: 1.5, onExpiry: expiry.record)
        let start = Date()
        watchdog.start()
        usleep(600_000)
        XCTAssertNil(expiry.message, "a waiting rank fired before its grace ended")
        wait(for: [expiry.expectation], timeout: 10)
        watchdog.stop()
        XCTAssertGreaterThanOrEqual(expiry.at!.timeIntervalSince(start), 1.7)
        let message = expiry.message ?? ""
        XCTAssertTrue(message.contains("rank 0 on host testhost made no progress for "), message)
        XCTAssertTrue(message.contains("while waiting in allReduceSum (a peer is hung or the network is lost)"), message)
    }

    func testAShorterDeadlineTakesEffectWhileRunning() {
        let expiry = Expiry(self)
        let watchdog = Watchdog(communicator: RecordingCommunicator(), deadline: 600, onExpiry: expiry.record)
        watchdog.start()
        usleep(100_000)
        watchdog.deadline = 0.3
        XCTAssertEqual(watchdog.deadline, 0.3)
        wait(for: [expiry.expectation], timeout: 10)
        watchdog.stop()
    }

    func testDeadlineFromStepTimes() {
        XCTAssertEqual(Watchdog.deadline(stepSeconds: [3, 1, 2], multiple: 10, floor: 5), 30)
        XCTAssertEqual(Watchdog.deadline(stepSeconds: [1, 2, 1.5], multiple: 2, floor: 5), 5)
        // Steps of 0.3 s: a hung peer is noticed after the floor, not after two minutes.
        XCTAssertEqual(Watchdog.deadline(stepSeconds: [0.1, 0.2, 0.3]), 15)
        XCTAssertEqual(Watchdog.deadline(stepSeconds: [8, 9, 10]), 40)
        XCTAssertEqual(Watchdog.deadline(stepSeconds: []), Watchdog.initialDeadline)
    }
}
