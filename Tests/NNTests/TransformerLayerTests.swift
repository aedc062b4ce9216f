import Foundation
@testable import NN
import Tensors
import TestSupport
import XCTest

/// sin(a·i + b), the closed form scripts/nn_transformer_reference.py fills everything with.
private func wave(_ i: Int, _ a: Double, _ b: Double) -> Double { sin(a * Double(i) + b) }

/// The script's closed form, rounded to float32.
private func closedForm(_ shape: [Int], _ a: Double, _ b: Double, scale: Float = 1, shift: Float = 0) -> Tensor {
    let count = shape.reduce(1, *)
    return Tensor(shape: shape, values: (0..<count).map { Float(Double(scale) * wave($0, a, b) + Double(shift)) })
}

final class TransformerLayerTests: XCTestCase {
    /// Sets the parameters as the script does, runs forward and backward on its input and loss
    /// weights, and compares the output and every gradient element by element.
    private func checkAgainstTorch(_ reference: TorchLayerReference, _ layer: Layer, _ store: ParameterStore,
                                   prefix: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(store.parameters.map(\.name), reference.parameterGradients.map { qualified(prefix, $0.0) },
                       "torch's names", file: file, line: line)
        for (k, p) in store.parameters.enumerated() {
            let fanIn = p.count / p.shape[0]
            for i in 0..<p.count {
                let s = wave(i, 0.7, 1.3 * Double(k) + 0.5)
                switch p.role {
                case .weight: p.value[i] = Float((3.0 / Double(fanIn)).squareRoot() * s)
                case .normWeight: p.value[i] = Float(1 + s / 4)
                case .bias, .normBias: p.value[i] = Float(s / 4)
                }
            }
        }
        let x = closedForm(reference.inputShape, 0.37, 0.2, scale: reference.inputScale, shift: reference.inputShift)
        let y = layer.forward(x, mode: .training)
        assertClose(y.array, reference.output, rtol: 1e-5, atol: 2e-6, "output", file: file, line: line)
        store.zeroGrad()
        let dx = layer.backward(closedForm(y.shape, 0.91, 0.4))
        assertClose(dx.array, reference.inputGradient, rtol: 1e-5, atol: 1e-5, "input gradient", file: file, line: line)
        for (p, (name, expected)) in zip(store.parameters, reference.parameterGradients) {
            assertClose(Array(UnsafeBufferPointer(start: p.grad, count: p.count)), expected, rtol: 1e-5, atol: 1e-5,
                        name, file: file, line: line)
        }
        // Inference keeps nothing and takes its buffers from the pool, but computes the same.
        assertClose(layer.forward(x, mode: .inference).array, reference.output, rtol: 1e-5, atol: 2e-6,
                    "inference output", file: file, line: line)
    }

    func testLayerNormGradients() {
        // 20 features: one vector of 16 and a scalar tail.
        for (shape, eps) in [([2, 3, 20], Float(1e-6)), ([4, 5], Float(1e-5))] {
            let (norm, store) = build { LayerNorm($0, name: "ln", features: shape.last!, eps: eps) }
            randomizeParameters(store, seed: 5)
            checkGradients(store: store, input: randomTensor(shape, seed: 4),
                           forward: { norm.forward($0, mode: .training) }, backward: { norm.backward($0) },
                           "layer norm \(shape)")
        }
    }

    func testLayerNormMatchesPyTorch() {
        let (vit, vitStore) = build { LayerNorm($0, name: "encoder.ln", features: 20, eps: 1e-6) }
        checkAgainstTorch(torchReferenceLayerNorm, vit, vitStore, prefix: "encoder.ln")
        let (swin, swinStore) = build { LayerNorm($0, name: "norm", features: 6, eps: 1e-5) }
        checkAgainstTorch(torchReferenceLayerNormSwin, swin, swinStore, prefix: "norm")
    }

    func testLayerNormNormalisesEachRowAndAddsGradients() {
        let (norm, store) = build { LayerNorm($0, name: "ln", features: 4) }
        // Rows of very different offsets and scales give the same normalised row.
        let x = Tensor(shape: [2, 4], values: [1, 2, 3, 4, 1000, 1010, 1020, 1030])
        let y = norm.forward(x, mode: .evaluation).array
        assertClose(Array(y[0..<4]), Array(y[4..<8]), rtol: 1e-4, atol: 1e-4, "rows")
        assertClose(Array(y[0..<4]), [-1.3416408, -0.4472136, 0.4472136, 1.3416408], rtol: 1e-4, atol: 1e-5, "values")
        // A second backward adds into the parameter gradients rather than replacing them.
        store.zeroGrad()
        let dy = Tensor(shape: [2, 4], values: [1, 0, 0, 2, 0, 1, 1, 0])
        _ = norm.backward(dy)
        let once = Array(UnsafeBufferPointer(start: norm.weight.grad, count: 4))
        _ = norm.backward(dy)
        assertClose(Array(UnsafeBufferPointer(start: norm.weight.grad, count: 4)), once.map { 2 * $0 }, "accumulated")
    }

    func testGELUGradients() {
        let gelu = GELU()
        let store = ParameterStore()
        store.finalize(seed: 0)
        checkGradients(store: store, input: randomTensor([3, 2, 5], seed: 6, scale: 2),
                       forward: { gelu.forward($0, mode: .training) }, backward: { gelu.backward($0) }, "gelu")
    }

    func testGELUMatchesPyTorch() {
        let (gelu, store) = build { _ in GELU() }
        checkAgainstTorch(torchReferenceGELU, gelu, store, prefix: "")
        // Φ(1) = 0.8413447: the erf form, which the tanh approximation (0.8411920) misses by 1.5e-4.
        assertClose(gelu.forward(Tensor(shape: [3], values: [1, 0, -1]), mode: .evaluation).array,
                    [0.8413447, 0, -0.1586553], rtol: 1e-6, atol: 1e-7)
    }

    func testAttentionGradients() {
        for (heads, shape) in [(2, [2, 3, 6]), (3, [1, 4, 9])] {
            let (attention, store) = build {
                MultiHeadSelfAttention($0, name: "attn", embedDim: shape[2], heads: heads)
            }
            randomizeParameters(store, seed: 8)
            checkGradients(store: store, input: randomTensor(shape, seed: 9),
                           forward: { attention.forward($0, mode: .training) }, backward: { attention.backward($0) },
                           "attention \(heads) heads on \(shape)")
        }
    }

    func testAttentionMatchesPyTorch() {
        let prefix = "encoder.layers.encoder_layer_0.self_attention"
        let (attention, store) = build { MultiHeadSelfAttention($0, name: prefix, embedDim: 12, heads: 3) }
        XCTAssertEqual(store.parameters.map(\.exportShape), [[36, 12], [36], [12, 12], [12]])
        checkAgainstTorch(torchReferenceAttention, attention, store, prefix: prefix)
    }

    func testAttentionSoftmaxIsSafeForLargeScores() {
        let (attention, store) = build { MultiHeadSelfAttention($0, name: "attn", embedDim: 4, heads: 1) }
        randomizeParameters(store, seed: 3)
        // Scores in the thousands: exp without the maximum subtracted overflows to inf and gives NaN.
        let y = attention.forward(randomTensor([1, 3, 4], seed: 2, scale: 300), mode: .training)
        XCTAssertTrue(y.array.allSatisfy(\.isFinite), "\(y.array)")
        XCTAssertTrue(attention.backward(randomTensor([1, 3, 4], seed: 1)).array.allSatisfy(\.isFinite))
    }

    func testAttentionInitialisationFollowsTorch() {
        let d = 48
        let (attention, _) = build { MultiHeadSelfAttention($0, name: "attn", embedDim: d, heads: 4) }
        func values(_ p: Parameter) -> [Float] { Array(UnsafeBufferPointer(start: p.value, count: p.count)) }
        let xavier = (6 / Float(4 * d)).squareRoot(), linear = 1 / Float(d).squareRoot()
        let inWeights = values(attention.inProjWeight), outWeights = values(attention.outProjWeight)
        XCTAssertTrue(inWeights.allSatisfy { abs($0) <= xavier })
        XCTAssertGreaterThan(inWeights.map(abs).max()!, 0.95 * xavier)
        XCTAssertTrue(outWeights.allSatisfy { abs($0) <= linear })
        XCTAssertGreaterThan(outWeights.map(abs).max()!, 0.95 * linear)
        XCTAssertEqual(values(attention.inProjBias) + values(attention.outProjBias), [Float](repeating: 0, count: 4 * d))
    }

    /// Heads (attention) and rows (LayerNorm) split across threads write disjoint parts of each
    /// buffer, so two threads give the numbers one does.
    func testAttentionAndLayerNormAgreeAcrossThreadCounts() {
        let saved = Threads.count, savedWaiting = Threads.waiting
        defer { Threads.configure(saved, waiting: savedWaiting) }
        func run(threads: Int) -> [[Float]] {
            Threads.configure(threads)
            let (attention, store) = build { MultiHeadSelfAttention($0, name: "attn", embedDim: 12, heads: 3) }
            let (norm, normStore) = build { LayerNorm($0, name: "ln", features: 20) }
            randomizeParameters(store, seed: 4)
            randomizeParameters(normStore, seed: 5)
            // 4 images of 5 tokens: 12 (image, head) pairs; 2000 rows: several rows per chunk.
            let y = attention.forward(randomTensor([4, 5, 12], seed: 6), mode: .training).array
            let dx = attention.backward(randomTensor([4, 5, 12], seed: 7)).array
            let z = norm.forward(randomTensor([2000, 20], seed: 8), mode: .training).array
            let dz = norm.backward(randomTensor([2000, 20], seed: 9)).array
            let grads = Array(UnsafeBufferPointer(start: store.grads, count: store.count))
                + Array(UnsafeBufferPointer(start: normStore.grads, count: normStore.count))
            return [y, dx, z, dz, grads]
        }
        let one = run(threads: 1), two = run(threads: 2)
        for (label, (a, b)) in zip(["attention output", "attention dx", "norm output", "norm dx", "gradients"], zip(two, one)) {
            assertClose(a, b, rtol: 1e-5, atol: 1e-6, label)
        }
    }
}
