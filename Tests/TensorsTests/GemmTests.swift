import Tensors
import TestSupport
import XCTest

final class GemmTests: XCTestCase {
    func testGemmMatchesNaiveLoopForAllTransposes() {
        let (m, n, k) = (5, 7, 3)
        let a = randomTensor([m * k], seed: 1), b = randomTensor([k * n], seed: 2)
        for transA in [false, true] {
            for transB in [false, true] {
                for beta: Float in [0, 0.5] {
                    let c = randomTensor([m, n], seed: 3), expected = c.clone()
                    gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 1.5,
                         a: a.data, b: b.data, beta: beta, c: c.data)
                    referenceGemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 1.5,
                                  a: a.data, b: b.data, beta: beta, c: expected.data)
                    assertClose(c.array, expected.array, rtol: 1e-5, atol: 1e-5,
                                "transA \(transA) transB \(transB) beta \(beta)")
                }
            }
        }
    }

    func testProductsSplitAcrossThreadsMatchTheNaiveLoop() {
        // Large enough to be split: by rows (m >= n; 2100 rows make 8 blocks, the last shorter) and by
        // columns (few rows, many columns, as the weight gradient of a convolution), every transpose,
        // with and without accumulation.
        let saved = Threads.count
        Threads.configure(2)
        defer { Threads.configure(saved) }
        for (m, n, k) in [(300, 70, 129), (2100, 40, 30), (24, 700, 150)] {
            let a = randomTensor([m * k], seed: 11), b = randomTensor([k * n], seed: 12)
            for transA in [false, true] {
                for transB in [false, true] {
                    for beta: Float in [0, 1] {
                        let c = randomTensor([m, n], seed: 13), expected = c.clone()
                        gemm(transA: transA, transB: transB, m: m, n: n, k: k, a: a.data, b: b.data, beta: beta,
                             c: c.data)
                        referenceGemm(transA: transA, transB: transB, m: m, n: n, k: k, a: a.data, b: b.data,
                                      beta: beta, c: expected.data)
                        assertClose(c.array, expected.array, rtol: 1e-4, atol: 1e-4,
                                    "\(m)x\(n)x\(k) transA \(transA) transB \(transB) beta \(beta)")
                    }
                }
            }
        }
    }

    func testIm2colAndCol2imAreAdjoint() {
        // <im2col(x), y> == <x, col2im(y)> for every geometry: the defining property of an adjoint.
        for (stride, padding, k) in [(1, 1, 3), (2, 1, 3), (2, 0, 1), (2, 3, 7)] {
            let g = ConvGeometry(n: 2, h: 9, w: 8, c: 3, kh: k, kw: k, stride: stride, padding: padding)
            let x = randomTensor([2, 9, 8, 3], seed: 4)
            let col = Tensor(zeros: [g.rows, g.patch])
            im2col(g, x: x.data, col: col.data, images: 0..<2)
            let y = randomTensor([g.rows, g.patch], seed: 5)
            let back = Tensor(zeros: [2, 9, 8, 3])
            col2im(g, col: y.data, dx: back.data, images: 0..<2)
            let lhs = zip(col.array, y.array).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            let rhs = zip(x.array, back.array).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            XCTAssertEqual(lhs, rhs, accuracy: 1e-3 * max(1, abs(lhs)), "stride \(stride) k \(k)")
        }
    }

    func testIm2colPlacesPixelsAndZeroPadding() {
        // A 1-channel 3x3 image, 3x3 kernel, padding 1: the centre output's patch is the image itself,
        // the top-left output's patch starts with a padded zero.
        let g = ConvGeometry(n: 1, h: 3, w: 3, c: 1, kh: 3, kw: 3, stride: 1, padding: 1)
        let x = Tensor(shape: [1, 3, 3, 1], values: (1...9).map(Float.init))
        let col = Tensor(zeros: [g.rows, g.patch])
        im2col(g, x: x.data, col: col.data, images: 0..<1)
        XCTAssertEqual(Array(col.array[4 * 9..<5 * 9]), (1...9).map(Float.init))
        XCTAssertEqual(Array(col.array[0..<9]), [0, 0, 0, 0, 1, 2, 0, 4, 5])
    }
}
