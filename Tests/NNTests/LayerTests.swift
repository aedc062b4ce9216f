@testable import NN
import Tensors
import TestSupport
import XCTest

final class LayerTests: XCTestCase {
    func testLinearGradients() {
        for hasBias in [true, false] {
            let (linear, store) = build { Linear($0, name: "fc", inFeatures: 5, outFeatures: 4, bias: hasBias) }
            checkGradients(store: store, input: randomTensor([3, 5], seed: 1),
                           forward: { linear.forward($0, mode: .training) }, backward: { linear.backward($0) },
                           "linear bias \(hasBias)")
        }
    }

    func testLinearMatchesMatrixProductAndTorchLayout() {
        let (linear, store) = build { Linear($0, name: "fc", inFeatures: 3, outFeatures: 2) }
        XCTAssertEqual(store.parameters.map(\.name), ["fc.weight", "fc.bias"])
        XCTAssertEqual(linear.weight.shape, [2, 3])
        let w: [Float] = [1, 2, 3, -1, 0, 2], b: [Float] = [0.5, -0.5]
        linear.weight.value.update(from: w, count: 6)
        linear.bias!.value.update(from: b, count: 2)
        let y = linear.forward(Tensor(shape: [1, 3], values: [1, 1, 2]), mode: .evaluation)
        XCTAssertEqual(y.array, [9.5, 2.5])  // [1+2+6+0.5, -1+0+4-0.5]
    }

    func testLinearInitIsUniformFanIn() {
        let (linear, _) = build { Linear($0, name: "fc", inFeatures: 64, outFeatures: 32) }
        let bound: Float = 1 / 8
        let w = Array(UnsafeBufferPointer(start: linear.weight.value, count: linear.weight.count))
        let b = Array(UnsafeBufferPointer(start: linear.bias!.value, count: 32))
        XCTAssertTrue((w + b).allSatisfy { abs($0) <= bound })
        XCTAssertGreaterThan(w.map(abs).max()!, 0.9 * bound)
    }

    func testReLUGradientsAndValues() {
        let relu = ReLU()
        let store = ParameterStore()
        store.finalize(seed: 0)
        // Values kept away from 0 so the finite difference does not cross the kink.
        let x = randomTensor([2, 3, 3, 2], seed: 2)
        for i in 0..<x.count where abs(x[i]) < 0.05 { x[i] = 0.1 }
        checkGradients(store: store, input: x, forward: { relu.forward($0, mode: .training) },
                       backward: { relu.backward($0) }, "relu")
        XCTAssertEqual(relu.forward(Tensor(shape: [1, 3], values: [-1, 0, 2]), mode: .training).array, [0, 0, 2])
    }

    func testGlobalAveragePoolGradientsAndValues() {
        let pool = GlobalAveragePool()
        let store = ParameterStore()
        store.finalize(seed: 0)
        checkGradients(store: store, input: randomTensor([2, 3, 2, 4], seed: 3),
                       forward: { pool.forward($0, mode: .training) }, backward: { pool.backward($0) }, "gap")
        let x = Tensor(shape: [1, 2, 1, 2], values: [1, 10, 3, 20])
        XCTAssertEqual(pool.forward(x, mode: .training).array, [2, 15])
    }

    /// The direct definition of max pooling with padding as -∞.
    private func referenceMaxPool(_ x: Tensor, k: Int, s: Int, p: Int) -> [Float] {
        let (n, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let oh = (h + 2 * p - k) / s + 1, ow = (w + 2 * p - k) / s + 1
        var out: [Float] = []
        for i in 0..<n { for oy in 0..<oh { for ox in 0..<ow { for j in 0..<c {
            var m = -Float.infinity
            for ky in 0..<k { for kx in 0..<k {
                let iy = oy * s - p + ky, ix = ox * s - p + kx
                if iy >= 0 && iy < h && ix >= 0 && ix < w { m = max(m, x[((i * h + iy) * w + ix) * c + j]) }
            } }
            out.append(m)
        } } } }
        return out
    }

    func testMaxPoolValuesAndGradients() {
        for (k, s, p) in [(3, 2, 1), (2, 2, 0), (3, 1, 1), (3, 3, 0)] {
            let pool = MaxPool2d(kernelSize: k, stride: s, padding: p)
            let store = ParameterStore()
            store.finalize(seed: 0)
            // Distinct values spaced well above 2·eps, so no perturbation changes a window's maximum.
            let count = 2 * 7 * 6 * 3
            var rng = RandomStream(seed: 5)
            let order = rng.permutation(count)
            let x = Tensor(shape: [2, 7, 6, 3], values: order.map { Float($0) * 0.1 })
            XCTAssertEqual(pool.forward(x, mode: .training).array, referenceMaxPool(x, k: k, s: s, p: p), "k\(k) s\(s) p\(p)")
            checkGradients(store: store, input: x, eps: 1e-2, forward: { pool.forward($0, mode: .training) },
                           backward: { pool.backward($0) }, "maxpool k\(k) s\(s) p\(p)")
        }
    }

    func testMaxPoolTieSendsGradientToFirstMaximumOnce() {
        // One 2x2 window of equal values: PyTorch routes the whole gradient to the first (row-major).
        let pool = MaxPool2d(kernelSize: 2, stride: 2, padding: 0)
        let x = Tensor(shape: [1, 2, 2, 1], values: [1, 1, 1, 1])
        _ = pool.forward(x, mode: .training)
        XCTAssertEqual(pool.backward(Tensor(shape: [1, 1, 1, 1], values: [3])).array, [3, 0, 0, 0])
    }

    /// The join applies the branches' normalisations itself: its gradient with respect to the main
    /// path's un-normalised input is the join's gradient times the main map's scale.
    func testResidualReLUGradient() {
        let join = ResidualReLU()
        let store = ParameterStore()
        store.finalize(seed: 0)
        let b = randomTensor([2, 2, 2, 3], seed: 6)
        let a = randomTensor([2, 2, 2, 3], seed: 7)
        let scaleA: [Float] = [0.5, -1.5, 2], shiftA: [Float] = [0.1, 0, -0.2]
        let scaleB: [Float] = [1.25, 0.75, -0.5], shiftB: [Float] = [-0.3, 0.2, 0.05]
        scaleA.withUnsafeBufferPointer { sa in shiftA.withUnsafeBufferPointer { ta in
            scaleB.withUnsafeBufferPointer { sb in shiftB.withUnsafeBufferPointer { tb in
                for downsampled in [false, true] {
                    // Keep every sum away from the ReLU's kink.
                    for i in 0..<a.count {
                        let j = i % 3
                        let shortcut = downsampled ? b[i] * sb[j] + tb[j] : b[i]
                        if abs(a[i] * sa[j] + ta[j] + shortcut) < 0.1 { a[i] += 0.3 / sa[j] }
                    }
                    func forward(_ x: Tensor) -> Tensor {
                        let main = BatchNorm.Normalization(x: x, scale: sa.baseAddress!, shift: ta.baseAddress!)
                        if downsampled {
                            return join.forward(main, BatchNorm.Normalization(x: b, scale: sb.baseAddress!,
                                                                              shift: tb.baseAddress!), mode: .training)
                        }
                        return join.forward(main, identity: b, mode: .training)
                    }
                    checkGradients(store: store, input: a, forward: forward, backward: { dy in
                        let d = join.backward(dy)
                        let dx = Tensor(zeros: d.shape)
                        for i in 0..<d.count { dx[i] = d[i] * sa[i % 3] }
                        return dx
                    }, "residual join\(downsampled ? " with a downsampling map" : "")")
                }
            } }
        } }
    }
}
