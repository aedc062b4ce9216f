import Foundation
import Optim
import Tensors
import TestSupport
import XCTest

final class NTXentLossTests: XCTestCase {
    func testMatchesReferenceLossGradientAndAccuracy() throws {
        let cases = try XCTUnwrap(optimFixture("ntxent")["cases"] as? [[String: Any]])
        XCTAssertEqual(cases.count, 4)
        for c in cases {
            let name = c["name"] as? String ?? "?"
            let zValues = floats(c["z"])
            let z = Tensor(shape: [8, 5], values: zValues)
            let loss = try NTXentLoss(temperature: float(c["temperature"], default: .nan))
            let dz = Tensor(zeros: [8, 5])
            let output = loss.lossAndGradient(z, dz: dz)
            assertClose([output.loss], floats(c["loss"]), rtol: 1e-5, atol: 0, "\(name) loss")
            XCTAssertEqual(output.accuracy, floats(c["accuracy"])[0], "\(name) accuracy")
            let expected = floats(c["grad"])
            let scale = expected.map(abs).max() ?? 1
            assertClose(dz.array, expected, rtol: 1e-4, atol: 1e-5 * scale, "\(name) gradient")
            XCTAssertEqual(loss.evaluate(z), output, "\(name): evaluate and lossAndGradient disagree")
        }
    }

    func testGradientMatchesFiniteDifferences() throws {
        for temperature: Float in [0.5, 0.1] {
            let z = randomTensor([6, 4], seed: 11)
            let loss = try NTXentLoss(temperature: temperature)
            let (_, dz) = loss.lossAndGradient(z)
            let analytic = dz.array
            let numeric = numericGradient(at: z.data, count: z.count, eps: 1e-2) {
                Double(loss.evaluate(z).loss)
            }
            assertGradientMatches(analytic, numeric, tolerance: 2e-2, floor: 1e-2, "tau \(temperature)")
        }
    }

    func testInternalGradientBufferIsReused() throws {
        let loss = try NTXentLoss(temperature: 0.2)
        let first = loss.lossAndGradient(randomTensor([8, 3], seed: 1)).dz
        let second = loss.lossAndGradient(randomTensor([8, 3], seed: 2)).dz
        XCTAssertTrue(first === second)
        XCTAssertTrue(loss.lossAndGradient(randomTensor([4, 3], seed: 3)).dz === first, "a smaller batch fits")
    }

    func testStableForTinyTemperatureAndCollapsedEmbeddings() throws {
        // All rows equal: every logit is 1/τ = 1000, exp would overflow without the max subtracted.
        let z = Tensor(shape: [6, 2], values: [Float](repeating: 3, count: 12))
        let loss = try NTXentLoss(temperature: 0.001)
        let dz = Tensor(zeros: [6, 2])
        let output = loss.lossAndGradient(z, dz: dz)
        XCTAssertEqual(output.loss, log(5), accuracy: 1e-5, "uniform softmax over the 5 other rows")
        XCTAssertTrue(dz.array.allSatisfy { $0.isFinite })
    }

    func testParallelRowsGiveTheSameResultAsOneThread() throws {
        let z = randomTensor([256, 8], seed: 5)
        let loss = try NTXentLoss(temperature: 0.3)
        let dzOne = Tensor(zeros: [256, 8])
        let one = loss.lossAndGradient(z, dz: dzOne)
        Threads.configure(2)
        defer { Threads.configure(1) }
        let dzTwo = Tensor(zeros: [256, 8])
        let two = loss.lossAndGradient(z, dz: dzTwo)
        XCTAssertEqual(one.loss, two.loss, accuracy: 1e-6)
        XCTAssertEqual(one.accuracy, two.accuracy)
        assertClose(dzTwo.array, dzOne.array, rtol: 1e-5, atol: 1e-8)
    }

    func testRejectsNonPositiveTemperature() {
        XCTAssertThrowsError(try NTXentLoss(temperature: 0))
        XCTAssertThrowsError(try NTXentLoss(temperature: -0.1))
    }
}
