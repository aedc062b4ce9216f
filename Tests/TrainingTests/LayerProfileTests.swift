import Distributed
import NN
import Training
import XCTest

/// `simclr bench step --profile`: where a SimCLR step's time goes, or an inference forward pass's.
final class LayerProfileTests: XCTestCase {
    private let model = ModelSpec(arch: .resnet50, width: 0.0625, stem: .imagenet, inputChannels: 3, imageSize: 32,
                                  mean: [], std: [])

    private func shares(_ rows: [LayerProfile.Row]) -> [LayerTimings.Kind: Double] {
        Dictionary(uniqueKeysWithValues: rows.map { ($0.kind, $0.share) })
    }

    func testForwardProfileHasNoBackwardWorkAndSumsToTheStep() throws {
        let rows = try LayerProfile.runForward(model: model, batch: 4, warmup: 1, iterations: 2,
                                               communicator: SingleProcessCommunicator())
        let share = shares(rows)
        XCTAssertEqual(rows.map(\.share).reduce(0, +), 1, accuracy: 1e-9)
        for kind in [LayerTimings.Kind.convBackward, .batchNormBackward, .optimizer, .linear] {
            XCTAssertEqual(share[kind], 0, "\(kind.label) in a forward pass")
        }
        for kind in [LayerTimings.Kind.convForward, .batchNormForward, .activation, .pooling] {
            XCTAssertGreaterThan(share[kind] ?? 0, 0, "\(kind.label) missing")
        }
    }

    /// The profiled network is built with the kernel policy it is given.
    func testForwardProfileFollowsTheKernelPolicy() throws {
        let comm = SingleProcessCommunicator()
        let winograd = shares(try LayerProfile.runForward(model: model, batch: 4, kernels: .default, warmup: 0,
                                                          iterations: 1, communicator: comm))
        let im2col = shares(try LayerProfile.runForward(model: model, batch: 4, kernels: KernelPolicy(winograd: false),
                                                        warmup: 0, iterations: 1, communicator: comm))
        XCTAssertGreaterThan(winograd[.winogradTransforms] ?? 0, 0)
        XCTAssertEqual(im2col[.winogradTransforms], 0)
    }

    func testSimCLRProfileHasBackwardWorkAndTheOptimizer() throws {
        let rows = try LayerProfile.run(model: model, batch: 4, projectionHidden: 16, projectionDimension: 8,
                                        warmup: 1, iterations: 1, communicator: SingleProcessCommunicator())
        let share = shares(rows)
        XCTAssertEqual(rows.map(\.share).reduce(0, +), 1, accuracy: 1e-9)
        for kind in [LayerTimings.Kind.convForward, .convBackward, .batchNormBackward, .optimizer, .linear] {
            XCTAssertGreaterThan(share[kind] ?? 0, 0, "\(kind.label) missing")
        }
    }
}
