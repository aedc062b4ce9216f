import Foundation
import Optim
import TestSupport
import XCTest

final class ScheduleTests: XCTestCase {
    func testWarmupCosineMatchesReference() throws {
        let cases = try XCTUnwrap(optimFixture("schedules")["warmup_cosine"] as? [[String: Any]])
        XCTAssertEqual(cases.count, 3)
        for c in cases {
            let schedule = try WarmupCosine(baseLR: float(c["base_lr"], default: .nan),
                                            warmupSteps: try XCTUnwrap(int(c["warmup_steps"])),
                                            totalSteps: try XCTUnwrap(int(c["total_steps"])),
                                            finalLR: float(c["final_lr"], default: .nan))
            let expected = floats(c["lrs"])
            assertClose((0..<expected.count).map { schedule.lr(step: $0) }, expected, rtol: 1e-6, atol: 1e-9,
                        "\(schedule)")
        }
        XCTAssertThrowsError(try WarmupCosine(baseLR: 0.1, warmupSteps: 10, totalSteps: 10))
    }

    func testStepDecayMatchesReference() throws {
        let c = try XCTUnwrap(optimFixture("schedules")["step_decay"] as? [String: Any])
        let schedule = try StepDecay(baseLR: float(c["base_lr"], default: .nan), gamma: float(c["gamma"], default: .nan),
                                     stepEpochs: try XCTUnwrap(int(c["step_epochs"])))
        let expected = floats(c["lrs"])
        assertClose((0..<expected.count).map { schedule.lr(epoch: $0) }, expected, rtol: 1e-6, atol: 0)
        XCTAssertThrowsError(try StepDecay(baseLR: 0.1, stepEpochs: 0))
    }

    private func makePlateau(_ c: [String: Any]) throws -> ReduceLROnPlateau {
        let o = c["options"] as? [String: Any] ?? [:]
        return try ReduceLROnPlateau(
            lr: try XCTUnwrap(double(c["lr"])),
            mode: ReduceLROnPlateau.Mode(rawValue: o["mode"] as? String ?? "min") ?? .min,
            factor: double(o["factor"]) ?? 0.1, patience: int(o["patience"]) ?? 10,
            threshold: double(o["threshold"]) ?? 1e-4,
            thresholdMode: ReduceLROnPlateau.ThresholdMode(rawValue: o["threshold_mode"] as? String ?? "rel") ?? .rel,
            cooldown: int(o["cooldown"]) ?? 0, minLR: double(o["min_lr"]) ?? 0)
    }

    func testReduceLROnPlateauFollowsTorchTrajectories() throws {
        let cases = try XCTUnwrap(optimFixture("schedules")["plateau"] as? [[String: Any]])
        XCTAssertEqual(cases.count, 6)
        for c in cases {
            let name = c["name"] as? String ?? "?"
            var plateau = try makePlateau(c)
            let metrics = try XCTUnwrap(c["metrics"] as? [NSNumber]).map(\.doubleValue)
            let trace = try XCTUnwrap(c["trace"] as? [[String: Any]])
            for (epoch, (metric, expected)) in zip(metrics, trace).enumerated() {
                let reduced = plateau.step(metric)
                let at = "\(name) epoch \(epoch)"
                XCTAssertEqual(reduced, bool(expected["reduced"], default: !reduced), at)
                XCTAssertEqual(plateau.lr, try XCTUnwrap(double(expected["lr"])), accuracy: 1e-15, at)
                XCTAssertEqual(plateau.best, try XCTUnwrap(double(expected["best"])), at)
                XCTAssertEqual(plateau.numBadEpochs, int(expected["num_bad_epochs"]), at)
                XCTAssertEqual(plateau.cooldownCounter, int(expected["cooldown_counter"]), at)
                XCTAssertEqual(plateau.lastEpoch, epoch + 1, at)
            }
        }
    }

    /// Encoding to JSON (before any step `best` is infinite) and decoding mid-run continues the same
    /// trajectory.
    func testReduceLROnPlateauStateRoundTripsThroughJSON() throws {
        let c = try XCTUnwrap((optimFixture("schedules")["plateau"] as? [[String: Any]])?.first)
        let metrics = try XCTUnwrap(c["metrics"] as? [NSNumber]).map(\.doubleValue)
        var straight = try makePlateau(c)
        var saved = try makePlateau(c)
        let fresh = try JSONDecoder().decode(ReduceLROnPlateau.self, from: JSONEncoder().encode(saved))
        XCTAssertEqual(fresh.best, .infinity)
        XCTAssertEqual(fresh, saved)
        for (i, metric) in metrics.enumerated() {
            XCTAssertEqual(straight.step(metric), saved.step(metric))
            if i % 5 == 2 {
                saved = try JSONDecoder().decode(ReduceLROnPlateau.self, from: JSONEncoder().encode(saved))
            }
            XCTAssertEqual(saved, straight, "epoch \(i)")
        }
    }

    func testReduceLROnPlateauRejectsFactorOfOneOrMore() {
        XCTAssertThrowsError(try ReduceLROnPlateau(lr: 0.1, factor: 1))
    }
}
