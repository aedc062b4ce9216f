import Distributed
import NN
import Tensors
import TestSupport
@testable import Training
import XCTest

/// `finetune --micro-batch`: a step computed in chunks leaves the gradients of the whole batch.
final class FineTuneStepTests: XCTestCase {
    let spec = ModelSpec(arch: .resnet18, width: 0.0625, stem: .cifar, inputChannels: 3, imageSize: 16, mean: [], std: [])
    let labels = [0, 1, 2, 0, 1, 2, 1]

    func classifier(separateHead: Bool) throws -> Classifier {
        try Classifier(spec: spec, headKind: .linear, classNames: ["a", "b", "c"], weights: nil,
                       separateHead: separateHead, seed: 7)
    }

    /// The gradients one step leaves in the trained store, and its loss sum.
    func step(_ classifier: Classifier, trainEncoder: Bool, x: Tensor, labels: [Int], microBatch: Int?) -> ([Float], Double) {
        let step = FineTuneStep(classifier: classifier, comm: SingleProcessCommunicator(), trainEncoder: trainEncoder,
                                microBatch: microBatch)
        let result = step.run(x, labels: labels)
        return (Array(UnsafeBufferPointer(start: step.store.grads, count: step.store.count)), result.lossSum)
    }

    /// A frozen encoder runs in evaluation mode, so chunks change nothing but the order of sums.
    func testChunksOfAFrozenEncoderGiveTheWholeBatchGradient() throws {
        XCTAssertEqual(FineTuneStep.chunks(of: 7, atMost: 7), [0 ..< 7])
        XCTAssertEqual(FineTuneStep.chunks(of: 4, atMost: 1), [0 ..< 1, 1 ..< 2, 2 ..< 3, 3 ..< 4])
        let x = randomTensor([7, 16, 16, 3], seed: 3)
        let (whole, wholeLoss) = step(try classifier(separateHead: true), trainEncoder: false, x: x, labels: labels, microBatch: nil)
        for m in [1, 2, 3, 7, 50] {
            let (chunked, loss) = step(try classifier(separateHead: true), trainEncoder: false, x: x, labels: labels, microBatch: m)
            XCTAssertEqual(loss, wholeLoss, accuracy: 1e-4 * abs(wholeLoss), "micro-batch \(m)")
            let scale = whole.map(abs).max() ?? 1
            XCTAssertGreaterThan(scale, 0)
            for (a, b) in zip(chunked, whole) { XCTAssertEqual(a, b, accuracy: 1e-5 * scale, "micro-batch \(m)") }
        }
    }

    /// Training the encoder, each chunk's BatchNorm uses that chunk's statistics: the chunked step's
    /// gradient is the sum of each chunk's own mean gradient weighted by its share of the batch.
    func testChunksOfATrainedEncoderAddTheirShareOfTheGradient() throws {
        let x = randomTensor([7, 16, 16, 3], seed: 4)
        let (chunked, _) = step(try classifier(separateHead: false), trainEncoder: true, x: x, labels: labels, microBatch: 3)
        var expected = [Float](repeating: 0, count: chunked.count)
        let imageFloats = 16 * 16 * 3
        XCTAssertEqual(FineTuneStep.chunks(of: 7, atMost: 3), [0 ..< 3, 3 ..< 5, 5 ..< 7])
        for range in FineTuneStep.chunks(of: 7, atMost: 3) {
            let start = range.lowerBound, n = range.count
            let part = Tensor(shape: [n, 16, 16, 3], values: Array(x.array[(start * imageFloats) ..< ((start + n) * imageFloats)]))
            let (g, _) = step(try classifier(separateHead: false), trainEncoder: true, x: part,
                              labels: Array(labels[start ..< start + n]), microBatch: nil)
            for i in 0..<g.count { expected[i] += g[i] * Float(n) / 7 }
        }
        let scale = expected.map(abs).max() ?? 1
        for (a, b) in zip(chunked, expected) { XCTAssertEqual(a, b, accuracy: 1e-4 * scale) }
        // And it is not the whole batch's gradient, whose BatchNorm sees all seven images.
        let (whole, _) = step(try classifier(separateHead: false), trainEncoder: true, x: x, labels: labels, microBatch: nil)
        XCTAssertGreaterThan(zip(whole, expected).map { abs($0 - $1) }.max() ?? 0, 1e-3 * scale)
    }

    /// A step of one image with a 1x1 last stage cannot train BatchNorm: refused with a line, not a
    /// crash in the middle of an epoch.
    func testASingleImageStepAtA1x1LastStageIsRefused() {
        var small = spec
        small.stem = .imagenet
        small.imageSize = 32
        XCTAssertThrowsError(try ImageTraining.checkBatchNormValues(model: small, smallestBatch: 1, microBatch: nil)) {
            XCTAssertTrue("\($0)".contains("one value per channel"), "\($0)")
        }
        XCTAssertThrowsError(try ImageTraining.checkBatchNormValues(model: small, smallestBatch: 16, microBatch: 1))
        XCTAssertNoThrow(try ImageTraining.checkBatchNormValues(model: small, smallestBatch: 16, microBatch: 3))
        XCTAssertNoThrow(try ImageTraining.checkBatchNormValues(model: spec, smallestBatch: 1, microBatch: nil))   // 2x2
    }
}
