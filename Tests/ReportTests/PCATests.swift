import Foundation
import TestSupport
import XCTest
@testable import Report

final class PCATests: XCTestCase {
    /// Projections and variances equal NumPy's eigendecomposition of the covariance, up to the
    /// sign of each component; both for N > D and for N < D.
    func testMatchesNumPyUpToSign() throws {
        let cases = try XCTUnwrap(try reportReference()["pca"] as? [[String: Any]])
        for c in cases {
            let (n, d) = (c["n"] as! Int, c["d"] as! Int)
            let x = floats(c["x"])
            let expected = (c["projection"] as! [NSNumber]).map(\.doubleValue)
            let variances = (c["explained_variance"] as! [NSNumber]).map(\.doubleValue)
            // Converged to rounding, and with the defaults meant for plots.
            for (tolerance, accuracy) in [(1e-11, 1e-7), (1e-6, 1e-3)] {
                let pca = PCA(fitting: x, count: n, dimension: d, maxIterations: 1000, tolerance: tolerance)
                for (got, want) in zip(pca.explainedVariance, variances) {
                    XCTAssertEqual(got, want, accuracy: accuracy * variances[0], "variance n=\(n) d=\(d)")
                }
                let projection = pca.transform(x, count: n)
                for component in 0..<2 {
                    let got = (0..<n).map { projection[$0 * 2 + component] }
                    let want = (0..<n).map { expected[$0 * 2 + component] }
                    let sign: Double = zip(got, want).reduce(0) { $0 + $1.0 * $1.1 } >= 0 ? 1 : -1
                    for (g, w) in zip(got, want) {
                        XCTAssertEqual(sign * g, w, accuracy: accuracy * (1 + abs(w)), "component \(component) n=\(n) d=\(d) tol \(tolerance)")
                    }
                }
            }
            let pca = PCA(fitting: x, count: n, dimension: d)
            // Orthonormal components.
            let dot = zip(pca.components[0], pca.components[1]).reduce(0) { $0 + $1.0 * $1.1 }
            XCTAssertEqual(dot, 0, accuracy: 1e-9)
            XCTAssertEqual(pca.components[0].reduce(0) { $0 + $1 * $1 }, 1, accuracy: 1e-9)
        }
    }

    func testDegenerateInputs() {
        // All points equal: no variance, no NaN.
        let same = PCA(fitting: [Float](repeating: 3, count: 12), count: 4, dimension: 3)
        XCTAssertEqual(same.explainedVariance, [0, 0])
        XCTAssertTrue(same.transform([Float](repeating: 3, count: 12), count: 4).allSatisfy { $0 == 0 })
        // Points on a line in 3-D: one component carries everything.
        let line: [Float] = (0..<5).flatMap { i in [Float(i), 2 * Float(i), -Float(i)] }
        let (x, y) = PCA.project2D(line, count: 5, dimension: 3)
        XCTAssertEqual(x.map { abs($0) }, [2, 1, 0, 1, 2].map { Double($0) * 6.0.squareRoot() }, accuracy: 1e-9)
        XCTAssertTrue(y.allSatisfy { abs($0) < 1e-9 })
    }

    func testSymmetricEigen() {
        let (values, vectors) = PCA.symmetricEigen([2, 1, 0, 1, 2, 0, 0, 0, 5], size: 3)
        XCTAssertEqual(values, [5, 3, 1], accuracy: 1e-12)
        XCTAssertEqual(abs(vectors[2 * 3 + 0]), 1, accuracy: 1e-12)
        XCTAssertEqual(abs(vectors[0 * 3 + 1]), 0.5.squareRoot(), accuracy: 1e-12)
    }
}

private func XCTAssertEqual(_ a: [Double], _ b: [Double], accuracy: Double, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.count, b.count, file: file, line: line)
    for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: accuracy, file: file, line: line) }
}
