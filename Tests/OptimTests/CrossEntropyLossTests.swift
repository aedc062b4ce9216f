import Foundation
import Optim
import Tensors
import TestSupport
import XCTest

final class CrossEntropyLossTests: XCTestCase {
    func testMatchesReferenceWithAndWithoutLabelSmoothing() throws {
        let fixture = try optimFixture("cross_entropy")
        let logits = Tensor(shape: [6, 4], values: floats(fixture["logits"]))
        let labels = try XCTUnwrap(fixture["labels"] as? [NSNumber]).map(\.intValue)
        let cases = try XCTUnwrap(fixture["cases"] as? [[String: Any]])
        XCTAssertEqual(cases.count, 2)
        for c in cases {
            let smoothing = float(c["label_smoothing"], default: .nan)
            let ce = try CrossEntropyLoss(labelSmoothing: smoothing)
            let dLogits = Tensor(zeros: [6, 4])
            let loss = ce.lossAndGradient(logits: logits, labels: labels, dLogits: dLogits)
            assertClose([loss], floats(c["loss"]), rtol: 1e-5, atol: 0, "smoothing \(smoothing) loss")
            assertClose(dLogits.array, floats(c["grad"]), rtol: 1e-5, atol: 1e-7, "smoothing \(smoothing) gradient")
            XCTAssertEqual(ce.loss(logits: logits, labels: labels), loss)
        }
    }

    func testAccuracyHelpersMatchReference() throws {
        let fixture = try optimFixture("cross_entropy")
        let logits = Tensor(shape: [6, 4], values: floats(fixture["logits"]))
        let labels = try XCTUnwrap(fixture["labels"] as? [NSNumber]).map(\.intValue)
        XCTAssertEqual(CrossEntropyLoss.correctCount(logits: logits, labels: labels, k: 1), int(fixture["top1_hits"]))
        XCTAssertEqual(CrossEntropyLoss.correctCount(logits: logits, labels: labels, k: 2), int(fixture["top2_hits"]))
        XCTAssertEqual(CrossEntropyLoss.correctCount(logits: logits, labels: labels, k: 4), 6)
        XCTAssertEqual(CrossEntropyLoss.predictions(logits: logits),
                       try XCTUnwrap(fixture["predictions"] as? [NSNumber]).map(\.intValue))
    }

    func testGradientMatchesFiniteDifferences() throws {
        let logits = randomTensor([5, 3], seed: 21, scale: 2)
        let labels = [0, 2, 1, 1, 2]
        for smoothing: Float in [0, 0.2] {
            let ce = try CrossEntropyLoss(labelSmoothing: smoothing)
            let dLogits = Tensor(zeros: [5, 3])
            _ = ce.lossAndGradient(logits: logits, labels: labels, dLogits: dLogits)
            let numeric = numericGradient(at: logits.data, count: logits.count, eps: 1e-2) {
                Double(ce.loss(logits: logits, labels: labels))
            }
            assertGradientMatches(dLogits.array, numeric, "smoothing \(smoothing)")
        }
    }

    func testRejectsSmoothingOutsideUnitInterval() {
        XCTAssertThrowsError(try CrossEntropyLoss(labelSmoothing: -0.1))
        XCTAssertThrowsError(try CrossEntropyLoss(labelSmoothing: 1.5))
    }
}
