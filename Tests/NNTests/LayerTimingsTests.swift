@testable import NN
import Tensors
import TestSupport
import XCTest

/// `simclr bench step --profile` charges each convolution's work to the kind that did it.
final class LayerTimingsTests: XCTestCase {
    override func tearDown() {
        LayerTimings.active = nil
    }

    /// Seconds per kind of one forward and backward of a 3x3 convolution with `stride`.
    private func profile(stride: Int) -> [LayerTimings.Kind: Double] {
        let (conv, store) = build { Conv2d($0, name: "c", inChannels: 16, outChannels: 16, kernelSize: 3,
                                           stride: stride, padding: 1) }
        randomizeParameters(store, seed: 3)
        let x = randomTensor([2, 8, 8, 16], seed: 4)
        let timings = LayerTimings()
        LayerTimings.active = timings
        let y = conv.forward(x, mode: .training)
        _ = conv.backward(randomTensor(y.shape, seed: 5))
        LayerTimings.active = nil
        return Dictionary(uniqueKeysWithValues: LayerTimings.Kind.allCases.map { ($0, timings.seconds[$0.rawValue]) })
    }

    func testWinogradTransformsAndIm2colAreChargedApart() {
        let saved = Conv2d.useWinograd
        defer { Conv2d.useWinograd = saved }
        Conv2d.useWinograd = true

        let winograd = profile(stride: 1)
        XCTAssertGreaterThan(winograd[.winogradTransforms]!, 0)
        XCTAssertEqual(winograd[.columns]!, 0, "a Winograd convolution runs no im2col")
        XCTAssertGreaterThan(winograd[.convForward]!, 0)
        XCTAssertGreaterThan(winograd[.convBackward]!, 0)

        let strided = profile(stride: 2)
        XCTAssertGreaterThan(strided[.columns]!, 0)
        XCTAssertEqual(strided[.winogradTransforms]!, 0, "a stride-2 convolution takes the im2col path")
    }
}
