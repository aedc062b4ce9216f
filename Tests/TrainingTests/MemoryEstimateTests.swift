@testable import Training
import XCTest

/// The memory estimate against the peaks `simclr bench step` measured (docs/performance.md), and
/// the one-line refusal of a step that cannot fit.
final class MemoryEstimateTests: XCTestCase {
    let resnet18 = ModelSpec(arch: .resnet18, width: 1, stem: .cifar, inputChannels: 3, imageSize: 32, mean: [], std: [])
    let resnet50 = ModelSpec(arch: .resnet50, width: 1, stem: .imagenet, inputChannels: 3, imageSize: 224, mean: [], std: [])

    /// Within a quarter of the measured peaks: supervised and SimCLR steps of ResNet-18 at batch 256
    /// (1784 and 3291 MB), and inference forward passes (574 MB; ResNet-50 at 224, batch 16: 685 MB).
    func testEstimatesFollowTheMeasuredPeaks() {
        for (estimate, measured) in [(MemoryEstimate.trainingStep(resnet18, images: 256), 1784e6),
                                     (MemoryEstimate.trainingStep(resnet18, images: 512), 3291e6),
                                     (MemoryEstimate.inference(resnet18, images: 256), 574e6),
                                     (MemoryEstimate.inference(resnet50, images: 16), 685e6)] {
            XCTAssertEqual(estimate.bytes / measured, 1, accuracy: 0.25, "\(estimate.description) against \(measured / 1e6) MB")
        }
    }

    func testAStepThatCannotFitSaysWhatWould() {
        XCTAssertThrowsError(try MemoryEstimate.check("a step", images: 100_000, available: 4e9, suggestion: "lower --batch-size") {
            .trainingStep(self.resnet18, images: $0)
        }) {
            let message = "\($0)"
            XCTAssertTrue(message.hasPrefix("a step needs about"), message)
            XCTAssertTrue(message.contains("4.0 GB available"), message)
            let fits = Int(message.components(separatedBy: "at most ").last?.split(separator: " ").first ?? "") ?? -1
            XCTAssertGreaterThan(fits, 0, message)
            XCTAssertLessThanOrEqual(MemoryEstimate.trainingStep(self.resnet18, images: fits).bytes, 4e9)
            XCTAssertGreaterThan(MemoryEstimate.trainingStep(self.resnet18, images: fits + 1).bytes, 4e9)
        }
        XCTAssertNoThrow(try MemoryEstimate.check("a step", images: 64, available: 4e9, suggestion: "") {
            .trainingStep(self.resnet18, images: $0)
        })
        var huge = resnet18
        huge.imageSize = 100_000
        XCTAssertThrowsError(try huge.checkBuildable(source: "x.safetensors, metadata simclr.model", available: 24e9)) {
            XCTAssertTrue("\($0)".contains("not even one image fits"), "\($0)")
        }
        var wide = resnet18
        wide.width = 1000
        XCTAssertThrowsError(try wide.checkBuildable(source: "w", available: 24e9)) {
            XCTAssertTrue("\($0)".contains("width 1000"), "\($0)")
        }
    }
}
