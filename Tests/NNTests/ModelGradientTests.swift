@testable import NN
import Tensors
import TestSupport
import XCTest

/// Finite-difference checks of the pieces networks are built from: every kind of block and stem, and
/// the heads (whole networks are checked in ResNetGradientTests).
///
/// In training mode a perturbed weight moves its channel's batch statistics and so every
/// pre-activation of the channel, across many ReLU kinks at once, while the true gradient is a small
/// difference of large terms; with float32 forwards some coordinates disagree at every step size.
/// Blocks tolerate 1% of their coordinates (measured: 1 of 365 in one block), stems and heads nothing.
final class ModelGradientTests: XCTestCase {
    /// Each kind of block in training mode, every coordinate: identity and downsampling shortcuts.
    func testBlocksInTrainingMode() {
        for (cin, planes, stride, bottleneck) in [(4, 4, 1, false), (2, 4, 2, false), (3, 5, 1, false),
                                                  (12, 3, 1, true), (4, 2, 2, true), (4, 3, 1, true)] {
            let store = ParameterStore()
            let block: any ResidualBlock = bottleneck
                ? Bottleneck(store, prefix: "b", inChannels: cin, planes: planes, stride: stride, zeroInitResidual: false,
                             kernels: .default, timings: nil)
                : BasicBlock(store, prefix: "b", inChannels: cin, planes: planes, stride: stride, zeroInitResidual: false,
                             kernels: .default, timings: nil)
            store.finalize(seed: 1)
            randomizeParameters(store, seed: 2)
            let x = randomTensor([2, 4, 4, cin], seed: 3)
            checkGradients(store: store, input: x, eps: 1e-2, retryEps: [1e-3, 2e-4], floor: 5e-2,
                           allowedFailures: (store.count + x.count) / 100,
                           // A block may overwrite the gradient it is given; the check reuses its own.
                           forward: { block.forward($0, mode: .training) }, backward: { block.backward($0.clone()) },
                           "\(bottleneck ? "bottleneck" : "basic") \(cin)->\(planes) stride \(stride)")
        }
    }

    /// Both stems in training mode: conv - BN - ReLU (- max pool).
    func testStemsInTrainingMode() {
        for imagenet in [false, true] {
            let store = ParameterStore()
            let stem = ConvBN(store, conv: "conv1", bn: "bn1", inChannels: 2, outChannels: 3,
                              kernelSize: imagenet ? 7 : 3, stride: imagenet ? 2 : 1, relu: true,
                              kernels: .default, timings: nil)
            let pool = MaxPool2d()
            store.finalize(seed: 1)
            randomizeParameters(store, seed: 2)
            checkGradients(store: store, input: randomTensor([2, 8, 8, 2], seed: 3), eps: 1e-2, retryEps: [1e-3, 2e-4], floor: 5e-2,
                           forward: { imagenet ? pool.forward(stem.forward($0, mode: .training), mode: .training)
                                               : stem.forward($0, mode: .training) },
                           backward: { stem.backward(imagenet ? pool.backward($0) : $0) },
                           imagenet ? "imagenet stem" : "cifar stem")
        }
    }

    func testHeadsInBothModes() {
        for mode in [Mode.training, .evaluation] {
            for (layers, batchNorm) in [(2, false), (3, true), (2, true)] {
                let store = ParameterStore()
                let head = ProjectionHead(store, inputDimension: 5, hiddenDimension: 6, outputDimension: 3,
                                          layers: layers, batchNorm: batchNorm, outputBatchNorm: batchNorm)
                store.finalize(seed: 1)
                randomizeParameters(store, seed: 2)
                let x = randomTensor([6, 5], seed: 3)
                for _ in 0..<5 { _ = head.forward(x, mode: .training) }
                checkGradients(store: store, input: x, eps: 1e-2, retryEps: [1e-3, 2e-4], floor: 5e-2,
                               forward: { head.forward($0, mode: mode) },
                               backward: { head.backward($0) }, "projection \(layers) bn \(batchNorm) \(mode)")
            }
            for kind in [ClassifierHead.Kind.linear, .mlp(hidden: 7)] {
                let store = ParameterStore()
                let head = ClassifierHead(store, kind: kind, inputDimension: 5, classes: 4)
                store.finalize(seed: 1)
                checkGradients(store: store, input: randomTensor([3, 5], seed: 4), eps: 1e-3, floor: 5e-2,
                               forward: { head.forward($0, mode: mode) }, backward: { head.backward($0) }, "classifier \(kind)")
            }
        }
    }
}
