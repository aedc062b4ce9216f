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

    private var savedSwitch = true, savedThreads = 1, savedMinimum = 16

    /// The shapes above have few channels: the channel threshold is lifted so they take the
    /// Winograd path (`testFewChannelsStayOnIm2col` checks the threshold itself).
    override func setUp() {
        savedSwitch = Conv2d.useWinograd
        savedThreads = Threads.count
        savedMinimum = Conv2d.winogradMinimumChannels
        Conv2d.winogradMinimumChannels = 1
    }

    override func tearDown() {
        Conv2d.useWinograd = savedSwitch
        Threads.configure(savedThreads)
        Conv2d.winogradMinimumChannels = savedMinimum
    }

    private func makeConv(_ cin: Int, _ cout: Int, bias: Bool, seed: UInt64) -> (Conv2d, ParameterStore) {
        let (conv, store) = build { Conv2d($0, name: "c", inChannels: cin, outChannels: cout, kernelSize: 3,
                                           padding: 1, bias: bias) }
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

    /// Forward and backward of `conv` through the chosen path: (y, dx, dW).
    private func run(_ conv: Conv2d, _ store: ParameterStore, _ x: Tensor, _ dy: Tensor,
                     winograd: Bool) -> (y: [Float], dx: [Float], dW: [Float]) {
        Conv2d.useWinograd = winograd
        let y = conv.forward(x, mode: .training).array
        store.zeroGrad()
        let dx = conv.backward(dy).array
        return (y, dx, Array(UnsafeBufferPointer(start: conv.weight.grad, count: conv.weight.count)))
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
            let fast = run(conv, store, x, dy, winograd: true)
            let expected = Tensor(zeros: [n, h, w, cout])
            referenceConvolution3x3(x.data, n: n, h: h, w: w, inChannels: cin, outChannels: cout,
                                    weight: conv.weight.value, bias: conv.bias?.value, into: expected.data)
            assertWinogradClose(fast.y, expected.array, "forward vs direct \(label)")
            let slow = run(conv, store, x, dy, winograd: false)
            assertWinogradClose(fast.y, slow.y, "forward vs im2col \(label)")
        }
    }

    /// ResNet's widths: the rounding of the transforms stays within tolerance over many channels.
    func testWideLayerMatchesDirectLoop() {
        Threads.configure(2)
        let (n, h, w, cin, cout) = (1, 7, 7, 64, 64)
        let (conv, store) = makeConv(cin, cout, bias: false, seed: 19)
        let x = randomTensor([n, h, w, cin], seed: 20), dy = randomTensor([n, h, w, cout], seed: 21)
        let fast = run(conv, store, x, dy, winograd: true)
        let expected = Tensor(zeros: [n, h, w, cout])
        referenceConvolution3x3(x.data, n: n, h: h, w: w, inChannels: cin, outChannels: cout,
                                weight: conv.weight.value, bias: nil, into: expected.data)
        assertWinogradClose(fast.y, expected.array, "forward")
        let slow = run(conv, store, x, dy, winograd: false)
        assertWinogradClose(fast.dx, slow.dx, "dx")
    }

    /// dx is a stride-1 padding-1 3x3 convolution of dy with the kernel rotated by 180 degrees and
    /// its channels swapped: built here explicitly and run through the direct loop.
    func testInputGradientMatchesRotatedKernelAndIm2col() {
        forEachCase(seed: 6) { conv, store, x, dy, label in
            let (n, h, w, cin, cout) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3], dy.shape[3])
            let fast = run(conv, store, x, dy, winograd: true)

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

            let slow = run(conv, store, x, dy, winograd: false)
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
            let fast = run(conv, store, x, dy, winograd: true)
            assertWinogradClose(fast.dW, expected.map(Float.init), "dW vs direct \(label)")
            // A second backward without zeroing adds the same again.
            _ = conv.backward(dy)
            let twice = Array(UnsafeBufferPointer(start: conv.weight.grad, count: conv.weight.count))
            assertWinogradClose(twice, expected.map { Float(2 * $0) }, "dW accumulates \(label)")
        }
    }

    func testGradientsMatchFiniteDifferences() {
        Conv2d.useWinograd = true
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

    /// The switch turned on between a forward and its backward: backward transforms the weights itself.
    func testSwitchTurnedOnBeforeBackward() {
        let (conv, store) = makeConv(3, 4, bias: false, seed: 11)
        let x = randomTensor([2, 5, 5, 3], seed: 12), dy = randomTensor([2, 5, 5, 4], seed: 13)
        let slow = run(conv, store, x, dy, winograd: false)
        Conv2d.useWinograd = false
        _ = conv.forward(x, mode: .training)
        Conv2d.useWinograd = true
        let dx = conv.backward(dy).array
        XCTAssertEqual(conv.winograd.passes, 2, "the weight and input gradients, by Winograd")
        assertWinogradClose(dx, slow.dx)
    }

    /// Off, every convolution takes the im2col path and the Winograd buffers are never made; on,
    /// only 3x3 stride-1 padding-1 convolutions take it.
    func testSwitchSelectsThePath() {
        let x = randomTensor([2, 6, 6, 3], seed: 14)
        for (k, s, p, eligible) in [(3, 1, 1, true), (3, 2, 1, false), (3, 1, 0, false), (1, 1, 0, false),
                                    (5, 1, 2, false)] {
            for on in [false, true] {
                Conv2d.useWinograd = on
                let (conv, _) = build { Conv2d($0, name: "c", inChannels: 3, outChannels: 4, kernelSize: k,
                                               stride: s, padding: p) }
                let y = conv.forward(x, mode: .training)
                _ = conv.backward(randomTensor(y.shape, seed: 15))
                XCTAssertEqual(conv.winograd.passes, on && eligible ? 3 : 0, "k\(k) s\(s) p\(p) on \(on)")
            }
        }
    }

    /// Under the default threshold, a layer with fewer than 16 input or output channels (a stem on
    /// RGB or grey images) takes the im2col path even with the switch on, and gives its results.
    func testFewChannelsStayOnIm2col() {
        Conv2d.winogradMinimumChannels = savedMinimum
        XCTAssertEqual(Conv2d.winogradMinimumChannels, 16, "the default threshold")
        for (cin, cout, eligible) in [(3, 16, false), (16, 1, false), (15, 16, false), (16, 16, true)] {
            let (conv, store) = makeConv(cin, cout, bias: false, seed: 22)
            let x = randomTensor([1, 4, 4, cin], seed: 23), dy = randomTensor([1, 4, 4, cout], seed: 24)
            let slow = run(conv, store, x, dy, winograd: false)
            XCTAssertFalse(conv.usesWinograd)
            let fast = run(conv, store, x, dy, winograd: true)
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
        Conv2d.useWinograd = true
        Threads.configure(1)
        Scratch.release()
        let (n, h, w, cin, cout) = (4, 7, 5, 8, 6)
        let bytesPerTile = 36 * (cin + cout) * MemoryLayout<Float>.size
        let (conv, store) = makeConv(cin, cout, bias: false, seed: 16)
        conv.winogradBudgetBytes = 8 * bytesPerTile + 1
        let x = randomTensor([n, h, w, cin], seed: 17), dy = randomTensor([n, h, w, cout], seed: 18)
        let first = run(conv, store, x, dy, winograd: true)
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
        let second = run(conv, store, x, dy, winograd: true)
        XCTAssertEqual(first.y, second.y)
        XCTAssertEqual(first.dx, second.dx)
        XCTAssertEqual(slots.flatMap { Scratch.buffers($0, floats: 1, parts: 1) }, scratch)
        XCTAssertEqual(Scratch.heldBytes, bytes)
    }
}
