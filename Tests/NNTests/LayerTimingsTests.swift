@testable import NN
import Tensors
import TestSupport
import XCTest

/// `simclr bench step --profile` charges each convolution's work to the kind that did it.
final class LayerTimingsTests: XCTestCase {
    /// Seconds per kind of one forward and backward of a 3x3 convolution with `stride`, built with
    /// `timings`.
    private func profile(stride: Int, into timings: LayerTimings) -> [LayerTimings.Kind: Double] {
        let (conv, store) = build { Conv2d($0, name: "c", inChannels: 16, outChannels: 16, kernelSize: 3,
                                           stride: stride, padding: 1, kernels: .default, timings: timings) }
        randomizeParameters(store, seed: 3)
        let x = randomTensor([2, 8, 8, 16], seed: 4)
        let y = conv.forward(x, mode: .training)
        _ = conv.backward(randomTensor(y.shape, seed: 5))
        return Dictionary(uniqueKeysWithValues: LayerTimings.Kind.allCases.map { ($0, timings.seconds[$0.rawValue]) })
    }

    func testWinogradTransformsAndIm2colAreChargedApart() {
        XCTAssertTrue(KernelPolicy.default.winograd)
        let winograd = profile(stride: 1, into: LayerTimings())
        XCTAssertGreaterThan(winograd[.winogradTransforms]!, 0)
        XCTAssertEqual(winograd[.columns]!, 0, "a Winograd convolution runs no im2col")
        XCTAssertGreaterThan(winograd[.convForward]!, 0)
        XCTAssertGreaterThan(winograd[.convBackward]!, 0)

        let strided = profile(stride: 2, into: LayerTimings())
        XCTAssertGreaterThan(strided[.columns]!, 0)
        XCTAssertEqual(strided[.winogradTransforms]!, 0, "a stride-2 convolution takes the im2col path")
    }

    /// A layer built without timings charges nothing to the timings of another.
    func testLayerWithoutTimingsRecordsNothing() {
        let timings = LayerTimings()
        let (conv, store) = build { Conv2d($0, name: "c", inChannels: 16, outChannels: 16, kernelSize: 3,
                                           padding: 1, kernels: .default) }
        let (bn, _) = build { BatchNorm($0, name: "bn", channels: 16, fusedReLU: true) }
        _ = profile(stride: 1, into: timings)
        let recorded = timings.seconds
        randomizeParameters(store, seed: 6)
        let y = bn.forward(conv.forward(randomTensor([2, 8, 8, 16], seed: 7), mode: .training), mode: .training)
        _ = conv.backward(bn.backward(randomTensor(y.shape, seed: 8)))
        XCTAssertEqual(timings.seconds, recorded)
    }
}
