@testable import NN
import Tensors
import TestSupport
import XCTest

/// The direct loop a convolution means, in Double: the reference the im2col + gemm path must match.
private func referenceConv(_ x: Tensor, _ conv: Conv2d) -> Tensor {
    let (n, h, w, cin) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let (k, s, p, cout) = (conv.kernelHeight, conv.stride, conv.padding, conv.outChannels)
    let oh = (h + 2 * p - k) / s + 1, ow = (w + 2 * p - k) / s + 1
    let y = Tensor(zeros: [n, oh, ow, cout])
    for i in 0..<n { for oy in 0..<oh { for ox in 0..<ow { for co in 0..<cout {
        var acc = Double(conv.bias?.value[co] ?? 0)
        for ky in 0..<k { for kx in 0..<k {
            let iy = oy * s - p + ky, ix = ox * s - p + kx
            guard iy >= 0, iy < h, ix >= 0, ix < w else { continue }
            for ci in 0..<cin {
                acc += Double(x[((i * h + iy) * w + ix) * cin + ci]) * Double(conv.weight.value[((co * k + ky) * k + kx) * cin + ci])
            }
        } }
        y[((i * oh + oy) * ow + ox) * cout + co] = Float(acc)
    } } } }
    return y
}

/// The direct loop's adjoint: (dx, dW, db) for dy.
private func referenceConvBackward(_ x: Tensor, _ dy: Tensor, _ conv: Conv2d) -> (dx: [Float], dW: [Float], db: [Float]) {
    let (n, h, w, cin) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let (k, s, p, cout) = (conv.kernelHeight, conv.stride, conv.padding, conv.outChannels)
    let (oh, ow) = (dy.shape[1], dy.shape[2])
    var dx = [Double](repeating: 0, count: x.count), dW = [Double](repeating: 0, count: conv.weight.count)
    var db = [Double](repeating: 0, count: cout)
    for i in 0..<n { for oy in 0..<oh { for ox in 0..<ow { for co in 0..<cout {
        let g = Double(dy[((i * oh + oy) * ow + ox) * cout + co])
        db[co] += g
        for ky in 0..<k { for kx in 0..<k {
            let iy = oy * s - p + ky, ix = ox * s - p + kx
            guard iy >= 0, iy < h, ix >= 0, ix < w else { continue }
            for ci in 0..<cin {
                let xi = ((i * h + iy) * w + ix) * cin + ci, wi = ((co * k + ky) * k + kx) * cin + ci
                dx[xi] += g * Double(conv.weight.value[wi])
                dW[wi] += g * Double(x[xi])
            }
        } }
    } } } }
    return (dx.map(Float.init), dW.map(Float.init), db.map(Float.init))
}

final class Conv2dTests: XCTestCase {
    /// (kernel, stride, padding, bias) covering 3x3, strided, 1x1 (both paths), 7x7 and an even kernel.
    private let geometries = [(3, 1, 1, false), (3, 2, 1, true), (1, 1, 0, false), (1, 2, 0, false),
                              (7, 2, 3, false), (2, 2, 0, true), (3, 1, 0, true)]

    override func tearDown() {
        Threads.configure(1)
    }

    /// On 1 and 2 threads: with one image per chunk, the 5 images are 5 chunks, which 2 threads
    /// share (2 and 3, each thread with its own columns and partial weight gradient).
    func testFastPathMatchesDirectLoopIncludingChunksAndThreads() {
        for threads in [1, 2] {
            Threads.configure(threads)
            for (k, s, p, hasBias) in geometries {
                for budget in [32 << 20, 1] {  // one chunk for the batch, and one image per chunk
                    let (conv, store) = build { Conv2d($0, name: "c", inChannels: 3, outChannels: 5, kernelSize: k,
                                                       stride: s, padding: p, bias: hasBias, kernels: .default) }
                    randomizeParameters(store, seed: 3)
                    conv.columnBudgetBytes = budget
                    let label = "k\(k) s\(s) p\(p) bias \(hasBias) budget \(budget) threads \(threads)"
                    let x = randomTensor([5, 9, 8, 3], seed: 4)
                    let y = conv.forward(x, mode: .training)
                    let expected = referenceConv(x, conv)
                    XCTAssertEqual(y.shape, expected.shape, label)
                    assertClose(y.array, expected.array, rtol: 1e-4, atol: 1e-5, "forward \(label)")

                    let dy = randomTensor(y.shape, seed: 5)
                    store.zeroGrad()
                    let dx = conv.backward(dy)
                    let ref = referenceConvBackward(x, dy, conv)
                    assertClose(dx.array, ref.dx, rtol: 1e-4, atol: 1e-5, "dx \(label)")
                    assertClose(Array(UnsafeBufferPointer(start: conv.weight.grad, count: conv.weight.count)), ref.dW,
                                rtol: 1e-4, atol: 1e-4, "dW \(label)")
                    if let bias = conv.bias {
                        assertClose(Array(UnsafeBufferPointer(start: bias.grad, count: bias.count)), ref.db,
                                    rtol: 1e-4, atol: 1e-4, "db \(label)")
                    }
                }
            }
        }
    }

    /// The first layer's direct path (`DirectConvolution`): 1 and 3 input channels, 16 to 48 output
    /// channels, every geometry, widths that leave 1-3 pixels after the blocks of 4, 1 and 2 threads;
    /// against the direct loop and against a layer with the same weights on the im2col path.
    func testDirectFirstLayerMatchesDirectLoopAndIm2col() throws {
        try XCTSkipUnless(CPU.hasAVX2AndFMA, "DirectConvolution needs AVX2 and FMA, which this CPU lacks")
        for threads in [1, 2] {
            Threads.configure(threads)
            for (k, s, p, hasBias) in geometries {
                for (cin, cout, width) in [(3, 16, 9), (1, 32, 10), (3, 48, 7)] {
                    let layers = [true, false].map { direct in
                        let (conv, store) = build {
                            Conv2d($0, name: "c", inChannels: cin, outChannels: cout, kernelSize: k, stride: s,
                                   padding: p, bias: hasBias, kernels: KernelPolicy(directFirstLayer: direct))
                        }
                        randomizeParameters(store, seed: 12)
                        return conv
                    }
                    let label = "k\(k) s\(s) p\(p) bias \(hasBias) \(cin)->\(cout) width \(width) threads \(threads)"
                    let x = randomTensor([3, 8, width, cin], seed: 13)
                    XCTAssertTrue(layers[0].usesDirectConvolution, label)
                    let direct = layers[0].forward(x, mode: .training).array
                    assertClose(direct, referenceConv(x, layers[0]).array, rtol: 1e-4, atol: 1e-5, "direct \(label)")
                    XCTAssertFalse(layers[1].usesDirectConvolution, label)
                    assertClose(direct, layers[1].forward(x, mode: .training).array, rtol: 1e-5, atol: 1e-6,
                                "im2col \(label)")
                }
            }
        }
    }

    /// Only a first layer with whole blocks of 16 output channels takes the direct path.
    func testDirectPathIsForFewInputChannelsAndBlocksOf16Outputs() {
        let kernels = KernelPolicy(directFirstLayer: true)
        let (stem, _) = build { Conv2d($0, name: "stem", inChannels: 3, outChannels: 64, kernelSize: 3, padding: 1,
                                       kernels: kernels) }
        let (odd, _) = build { Conv2d($0, name: "odd", inChannels: 3, outChannels: 24, kernelSize: 3, padding: 1,
                                      kernels: kernels) }
        let (wide, _) = build { Conv2d($0, name: "wide", inChannels: 16, outChannels: 64, kernelSize: 3, stride: 2,
                                       padding: 1, kernels: kernels) }
        XCTAssertTrue(stem.usesDirectConvolution)
        XCTAssertFalse(odd.usesDirectConvolution)
        XCTAssertFalse(wide.usesDirectConvolution)
    }

    func testGradientsMatchFiniteDifferences() {
        for (k, s, p, hasBias) in geometries {
            let (conv, store) = build { Conv2d($0, name: "c", inChannels: 2, outChannels: 3, kernelSize: k,
                                               stride: s, padding: p, bias: hasBias, kernels: .default) }
            randomizeParameters(store, seed: 6)
            let x = randomTensor([2, 8, 7, 2], seed: 7)
            checkGradients(store: store, input: x, forward: { conv.forward($0, mode: .training) },
                           backward: { conv.backward($0) }, "conv k\(k) s\(s) p\(p)")
        }
    }

    /// The direct forward path against the im2col backward pass.
    func testDirectFirstLayerGradientsMatchFiniteDifferences() throws {
        try XCTSkipUnless(CPU.hasAVX2AndFMA, "DirectConvolution needs AVX2 and FMA, which this CPU lacks")
        let (conv, store) = build { Conv2d($0, name: "c", inChannels: 2, outChannels: 16, kernelSize: 3, stride: 2,
                                           padding: 1, bias: true, kernels: .default) }
        XCTAssertTrue(conv.usesDirectConvolution)
        randomizeParameters(store, seed: 14)
        let x = randomTensor([1, 5, 6, 2], seed: 15)
        checkGradients(store: store, input: x, forward: { conv.forward($0, mode: .training) },
                       backward: { conv.backward($0) }, "direct conv")
    }

    /// Also when 2 threads share the chunks (their partial gradients add to what is there).
    func testBackwardAccumulatesIntoParameterGradients() {
        Threads.configure(2)
        let (conv, store) = build { Conv2d($0, name: "c", inChannels: 2, outChannels: 3, kernelSize: 3, padding: 1,
                                           bias: true, kernels: .default) }
        conv.columnBudgetBytes = 1
        let x = randomTensor([6, 5, 5, 2], seed: 8)
        let dy = randomTensor([6, 5, 5, 3], seed: 9)
        store.zeroGrad()
        _ = conv.forward(x, mode: .training)
        _ = conv.backward(dy)
        let once = Array(UnsafeBufferPointer(start: store.grads, count: store.count))
        _ = conv.forward(x, mode: .training)
        _ = conv.backward(dy)
        let twice = Array(UnsafeBufferPointer(start: store.grads, count: store.count))
        assertClose(twice, once.map { 2 * $0 }, rtol: 1e-5, atol: 1e-6)
    }

    /// Adding the input gradient into another one (a shortcut's into its block's main path) gives
    /// that gradient plus `backward`'s, and the same parameter gradients: every im2col geometry (the
    /// 1x1 ones with their own gather and scatter), the pointwise product and the Winograd path, in
    /// one chunk and one image per chunk, on 1 and 2 threads.
    func testAddingInputGradientEqualsBackwardPlusTheOtherGradient() {
        let cases = geometries.map { ($0.0, $0.1, $0.2, 3) } + [(3, 1, 1, 16)]
        for threads in [1, 2] {
            Threads.configure(threads)
            for (k, s, p, channels) in cases {
                for budget in [32 << 20, 1] {
                    let (conv, store) = build { Conv2d($0, name: "c", inChannels: channels, outChannels: channels,
                                                       kernelSize: k, stride: s, padding: p, kernels: .default) }
                    conv.columnBudgetBytes = budget
                    let label = "k\(k) s\(s) p\(p) c\(channels) budget \(budget) threads \(threads)"
                    XCTAssertEqual(conv.usesWinograd, channels == 16, label)
                    let x = randomTensor([3, 9, 8, channels], seed: 20)
                    let y = conv.forward(x, mode: .training)
                    let dy = randomTensor(y.shape, seed: 21)
                    store.zeroGrad()
                    let alone = conv.backward(dy).array
                    let dW = Array(UnsafeBufferPointer(start: conv.weight.grad, count: conv.weight.count))
                    let other = randomTensor(x.shape, seed: 22), sum = other.clone()
                    store.zeroGrad()
                    conv.backward(dy, addingInputGradientTo: sum)
                    assertClose(sum.array, zip(alone, other.array).map { $0 + $1 }, rtol: 1e-5, atol: 1e-6, "dx \(label)")
                    XCTAssertEqual(Array(UnsafeBufferPointer(start: conv.weight.grad, count: conv.weight.count)), dW,
                                   "dW \(label)")
                }
            }
        }
    }

    func testWithoutInputGradientParameterGradientsAreUnchanged() {
        for (k, s, p, _) in geometries {
            let (conv, store) = build { Conv2d($0, name: "c", inChannels: 2, outChannels: 3, kernelSize: k,
                                               stride: s, padding: p, kernels: .default) }
            let x = randomTensor([2, 7, 7, 2], seed: 10)
            let y = conv.forward(x, mode: .training)
            let dy = randomTensor(y.shape, seed: 11)
            store.zeroGrad()
            _ = conv.backward(dy)
            let full = Array(UnsafeBufferPointer(start: conv.weight.grad, count: conv.weight.count))
            conv.needsInputGradient = false
            _ = conv.forward(x, mode: .training)
            store.zeroGrad()
            XCTAssertEqual(conv.backward(dy).count, 0)
            assertClose(Array(UnsafeBufferPointer(start: conv.weight.grad, count: conv.weight.count)), full,
                        rtol: 1e-5, atol: 1e-6, "k\(k) s\(s)")
        }
    }

    func testParameterNamesLayoutAndInitScale() {
        let store = ParameterStore()
        let conv = Conv2d(store, name: "layer1.0.conv1", inChannels: 16, outChannels: 32, kernelSize: 3, padding: 1,
                          kernels: .default)
        store.finalize(seed: 1)
        XCTAssertEqual(store.parameters.map(\.name), ["layer1.0.conv1.weight"])
        XCTAssertEqual(conv.weight.shape, [32, 3, 3, 16])
        XCTAssertEqual(conv.weight.exportShape, [32, 16, 3, 3])
        // Kaiming normal, fan-out = 32·3·3: std sqrt(2/288).
        let values = Array(UnsafeBufferPointer(start: conv.weight.value, count: conv.weight.count))
        let std = (values.reduce(0) { $0 + Double($1 * $1) } / Double(values.count)).squareRoot()
        XCTAssertEqual(std, (2.0 / 288).squareRoot(), accuracy: 0.1 * (2.0 / 288).squareRoot())
    }
}
