@testable import NN
import Tensors
import TestSupport
import XCTest

/// The Winograd F(4x4, 3x3) path of `Conv2d` against the direct loop and the im2col path.
final class WinogradTests: XCTestCase {
    /// (batch, height, width, Cin, Cout, bias): odd sizes (partial edge tiles), one channel, channel
    /// counts on both sides of the 16-lane blocks, a single-output-channel layer.
    private let shapes = [(3, 7, 7, 1, 4, false), (2, 5, 3, 3, 5, true), (1, 1, 1, 2, 3, false),
                          (2, 8, 8, 16, 16, false), (1, 6, 9, 17, 33, true), (2, 4, 4, 32, 1, false),
                          (5, 6, 5, 4, 3, true)]

    private var savedThreads = 1

    override func setUp() {
        savedThreads = Threads.count
    }

    override func tearDown() {
        Threads.configure(savedThreads)
    }

    /// The shapes above have few channels: the channel threshold is lifted so they take the
    /// Winograd path (`testFewChannelsStayOnIm2col` checks the threshold itself).
    private static let winograd = KernelPolicy(winograd: true, winogradMinimumChannels: 1)
    private static let im2col = KernelPolicy(winograd: false, winogradMinimumChannels: 1)

    private func makeConv(_ cin: Int, _ cout: Int, bias: Bool, seed: UInt64,
                          kernels: KernelPolicy = winograd) -> (Conv2d, ParameterStore) {
        let (conv, store) = build { Conv2d($0, name: "c", inChannels: cin, outChannels: cout, kernelSize: 3,
                                           padding: 1, bias: bias, kernels: kernels) }
        randomizeParameters(store, seed: seed)
        return (conv, store)
    }

    /// F(4x4, 3x3) rounds more than the direct loop: its transforms scale some positions by up to 8
    /// (and 64 in two dimensions) and then sum terms of opposite signs. Each element is held to 1e-4
    /// of the largest magnitude of the reference, plus 1e-4 of its own.
    private func assertWinogradClose(_ a: [Float], _ b: [Float], _ message: String = "",
                                     file: StaticString = #filePath, line: UInt = #line) {
        let scale = b.reduce(Float(0)) { Swift.max($0, abs($1)) }
        assertClose(a, b, rtol: 1e-4, atol: Swift.max(1e-5, 1e-4 * scale), message, file: file, line: line)
    }

    /// Forward and backward of `conv`: (y, dx, dW).
    private func run(_ conv: Conv2d, _ store: ParameterStore, _ x: Tensor,
                     _ dy: Tensor) -> (y: [Float], dx: [Float], dW: [Float]) {
        let y = conv.forward(x, mode: .training).array
        store.zeroGrad()
        let dx = conv.backward(dy).array
        return (y, dx, Array(UnsafeBufferPointer(start: conv.weight.grad, count: conv.weight.count)))
    }

    /// The same on the im2col path: a layer of `conv`'s geometry and budgets, with its weights.
    private func runIm2col(_ conv: Conv2d, _ x: Tensor, _ dy: Tensor) -> (y: [Float], dx: [Float], dW: [Float]) {
        let (twin, store) = build { Conv2d($0, name: "c", inChannels: conv.inChannels, outChannels: conv.outChannels,
                                           kernelSize: 3, padding: 1, bias: conv.bias != nil, kernels: Self.im2col) }
        twin.weight.value.update(from: conv.weight.value, count: conv.weight.count)
        if let bias = conv.bias { twin.bias!.value.update(from: bias.value, count: bias.count) }
        twin.columnBudgetBytes = conv.columnBudgetBytes
        XCTAssertFalse(twin.usesWinograd)
        return run(twin, store, x, dy)
    }

    /// Every shape on 1 and 2 threads, with the whole batch in one chunk and one image per chunk (the
    /// 5-image batch is then 5 chunks, which 2 threads share):
    /// `body(conv, store, x, dy, label)` with a fresh layer (weights from `seed`) and inputs.
    func forEachCase(seed: UInt64, _ body: (Conv2d, ParameterStore, Tensor, Tensor, String) -> Void) {
        for threads in [1, 2] {
            Threads.configure(threads)
            for (n, h, w, cin, cout, hasBias) in shapes {
                for budget in [32 << 20, 1] {
                    let (conv, store) = makeConv(cin, cout, bias: hasBias, seed: seed)
                    conv.winogradBudgetBytes = budget
                    body(conv, store, randomTensor([n, h, w, cin], seed: seed + 1), randomTensor([n, h, w, cout], seed: seed + 2),
                         "\(n)x\(h)x\(w)x\(cin)->\(cout) bias \(hasBias) budget \(budget) threads \(threads)")
                }
            }
        }
    }

    func testForwardMatchesDirectLoopAndIm2colIncludingChunksAndThreads() {
        forEachCase(seed: 3) { conv, store, x, dy, label in
            let (n, h, w, cin, cout) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3], dy.shape[3])
            let fast = run(conv, store, x, dy)
            let expected = Tensor(zeros: [n, h, w, cout])
            referenceConvolution3x3(x.data, n: n, h: h, w: w, inChannels: cin, outChannels: cout,
                                    weight: conv.weight.value, bias: conv.bias?.value, into: expected.data)
            assertWinogradClose(fast.y, expected.array, "forward vs direct \(label)")
            let slow = runIm2col(conv, x, dy)
            assertWinogradClose(fast.y, slow.y, "forward vs im2col \(label)")
        }
    }

    /// ResNet's widths: the rounding of the transforms stays within tolerance over many channels.
    func testWideLayerMatchesDirectLoop() {
        Threads.configure(2)
        let (n, h, w, cin, cout) = (1, 7, 7, 64, 64)
        let (conv, store) = makeConv(cin, cout, bias: false, seed: 19)
        let x = randomTensor([n, h, w, cin], seed: 20), dy = randomTensor([n, h, w, cout], seed: 21)
        let fast = run(conv, store, x, dy)
        let expected = Tensor(zeros: [n, h, w, cout])
        referenceConvolution3x3(x.data, n: n, h: h, w: w, inChannels: cin, outChannels: cout,
                                weight: conv.weight.value, bias: nil, into: expected.data)
        assertWinogradClose(fast.y, expected.array, "forward")
        let slow = runIm2col(conv, x, dy)
        assertWinogradClose(fast.dx, slow.dx, "dx")
    }

    /// dx is a stride-1 padding-1 3x3 convolution of dy with the kernel rotated by 180 degrees and
    /// its channels swapped: built here explicitly and run through the direct loop.
    func testInputGradientMatchesRotatedKernelAndIm2col() {
        forEachCase(seed: 6) { conv, store, x, dy, label in
            let (n, h, w, cin, cout) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3], dy.shape[3])
            let fast = run(conv, store, x, dy)

            // rotated: [Cin, 3, 3, Cout], rotated[ci, a, b, co] = W[co, 2 - a, 2 - b, ci]
            let rotated = Tensor(zeros: [cin, 3, 3, cout])
            for co in 0..<cout { for ky in 0..<3 { for kx in 0..<3 { for ci in 0..<cin {
                rotated[((ci * 3 + 2 - ky) * 3 + 2 - kx) * cout + co] =
                    conv.weight.value[((co * 3 + ky) * 3 + kx) * cin + ci]
            } } } }
            let expected = Tensor(zeros: [n, h, w, cin])
            referenceConvolution3x3(dy.data, n: n, h: h, w: w, inChannels: cout, outChannels: cin,
                                    weight: rotated.data, bias: nil, into: expected.data)
            assertWinogradClose(fast.dx, expected.array, "dx vs rotated direct \(label)")

            let slow = runIm2col(conv, x, dy)
            assertWinogradClose(fast.dx, slow.dx, "dx vs im2col \(label)")
            assertWinogradClose(fast.dW, slow.dW, "dW vs im2col \(label)")
        }
    }

    /// dW[co, ky, kx, ci] = Σ dy[i, y, x, co] · x[i, y - 1 + ky, x - 1 + kx, ci], in Double.
    func testWeightGradientMatchesDirectLoopAndAccumulates() {
        forEachCase(seed: 9) { conv, store, x, dy, label in
            let (n, h, w, cin, cout) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3], dy.shape[3])
            var expected = [Double](repeating: 0, count: cout * 9 * cin)
            for i in 0..<n { for oy in 0..<h { for ox in 0..<w { for co in 0..<cout {
                let g = Double(dy[((i * h + oy) * w + ox) * cout + co])
                for ky in 0..<3 { for kx in 0..<3 {
                    let iy = oy - 1 + ky, ix = ox - 1 + kx
                    guard iy >= 0, iy < h, ix >= 0, ix < w else { continue }
                    for ci in 0..<cin {
                        expected[((co * 3 + ky) * 3 + kx) * cin + ci] += g * Double(x[((i * h + iy) * w + ix) * cin + ci])
                    }
                } }
            } } } }
            let fast = run(conv, store, x, dy)
            assertWinogradClose(fast.dW, expected.map(Float.init), "dW vs direct \(label)")
            // A second backward without zeroing adds the same again.
            _ = conv.backward(dy)
            let twice = Array(UnsafeBufferPointer(start: conv.weight.grad, count: conv.weight.count))
            assertWinogradClose(twice, expected.map { Float(2 * $0) }, "dW accumulates \(label)")
        }
    }

    func testGradientsMatchFiniteDifferences() {
        for (n, h, w, cin, cout, hasBias) in [(2, 5, 7, 2, 3, true), (1, 4, 4, 3, 2, false), (2, 3, 1, 1, 2, false)] {
            let (conv, store) = makeConv(cin, cout, bias: hasBias, seed: 9)
            let x = randomTensor([n, h, w, cin], seed: 10)
            // The loss is linear in the weights and the input, so a central difference is exact at any
            // step and only float rounding separates it from the gradient: a large step keeps that
            // rounding (larger in Winograd's transforms than in a direct product) well below the tolerance.
            checkGradients(store: store, input: x, eps: 0.5, forward: { conv.forward($0, mode: .training) },
                           backward: { conv.backward($0) }, "winograd \(n)x\(h)x\(w)x\(cin)->\(cout)")
            XCTAssertGreaterThan(conv.winograd.passes, 0, "the check must have run the Winograd path")
        }
    }

    /// Built without Winograd, every convolution takes the im2col path and the Winograd buffers are
    /// never made; with it, only 3x3 stride-1 padding-1 convolutions take it. Each layer keeps its
    /// own policy: the two run interleaved, forward and backward.
    func testPolicySelectsThePathOfEachLayer() {
        let x = randomTensor([2, 6, 6, 3], seed: 14)
        for (k, s, p, eligible) in [(3, 1, 1, true), (3, 2, 1, false), (3, 1, 0, false), (1, 1, 0, false),
                                    (5, 1, 2, false)] {
            let layers = [Self.im2col, Self.winograd].map { kernels in
                build { Conv2d($0, name: "c", inChannels: 3, outChannels: 4, kernelSize: k, stride: s, padding: p,
                               kernels: kernels) }.0
            }
            let outputs = layers.map { $0.forward(x, mode: .training) }
            for (conv, y) in zip(layers, outputs) { _ = conv.backward(randomTensor(y.shape, seed: 15)) }
            XCTAssertEqual(layers.map(\.winograd.passes), [0, eligible ? 3 : 0], "k\(k) s\(s) p\(p)")
        }
    }

    /// Under the default threshold, a layer with fewer than 16 input or output channels (a stem on
    /// RGB or grey images) takes the im2col path even with Winograd on, and gives its results.
    func testFewChannelsStayOnIm2col() {
        XCTAssertEqual(KernelPolicy.default.winogradMinimumChannels, 16, "the default threshold")
        XCTAssertTrue(KernelPolicy.default.winograd)
        for (cin, cout, eligible) in [(3, 16, false), (16, 1, false), (15, 16, false), (16, 16, true)] {
            // The default threshold without the direct first layer, so that both runs are im2col's.
            let (conv, store) = makeConv(cin, cout, bias: false, seed: 22, kernels: KernelPolicy(directFirstLayer: false))
            let x = randomTensor([1, 4, 4, cin], seed: 23), dy = randomTensor([1, 4, 4, cout], seed: 24)
            let slow = runIm2col(conv, x, dy)
            let fast = run(conv, store, x, dy)
            XCTAssertEqual(conv.usesWinograd, eligible, "\(cin)->\(cout)")
            XCTAssertEqual(conv.winograd.passes > 0, eligible, "\(cin)->\(cout)")
            if eligible {
                assertWinogradClose(fast.y, slow.y, "\(cin)->\(cout)")
            } else {
                XCTAssertEqual(fast.y, slow.y, "\(cin)->\(cout): the same im2col path")
                XCTAssertEqual(fast.dx, slow.dx, "\(cin)->\(cout): the same im2col path")
            }
        }
    }

    /// Chunks of tiles within the budget, and the same buffers from the second step on.
    func testBuffersRespectBudgetAndAreReused() {
        Threads.configure(1)
        Scratch.release()
        let (n, h, w, cin, cout) = (4, 7, 5, 8, 6)
        let bytesPerTile = 36 * (cin + cout) * MemoryLayout<Float>.size
        let (conv, store) = makeConv(cin, cout, bias: false, seed: 16)
        conv.winogradBudgetBytes = 8 * bytesPerTile + 1
        let x = randomTensor([n, h, w, cin], seed: 17), dy = randomTensor([n, h, w, cout], seed: 18)
        let first = run(conv, store, x, dy)
        // V and M, shared scratch, hold eight tiles (the larger channel count, from whichever pass);
        // U (or U') and dU one layer's kernels; the layer itself keeps only its output.
        XCTAssertEqual(Scratch.capacities(.tiles), [36 * 8 * cin])
        XCTAssertEqual(Scratch.capacities(.products), [36 * 8 * cin])
        XCTAssertEqual(Scratch.capacities(.transformedWeights), [36 * cout * cin])
        XCTAssertEqual(Scratch.capacities(.transformedGradient), [36 * cout * cin])
        XCTAssertEqual(conv.workspaceTensors.map(\.count), [n * h * w * cout])
        let slots: [Scratch.Slot] = [.tiles, .products, .transformedWeights, .transformedGradient]
        let scratch = slots.flatMap { Scratch.buffers($0, floats: 1, parts: 1) }
        let bytes = Scratch.heldBytes
        let second = run(conv, store, x, dy)
        XCTAssertEqual(first.y, second.y)
        XCTAssertEqual(first.dx, second.dx)
        XCTAssertEqual(slots.flatMap { Scratch.buffers($0, floats: 1, parts: 1) }, scratch)
        XCTAssertEqual(Scratch.heldBytes, bytes)
    }
}
