import Foundation

/// Principal component analysis of row vectors (embeddings `[N, D]`), for 2-D scatter plots.
///
/// The leading eigenvectors of the covariance are found by subspace iteration with Rayleigh-Ritz
/// steps, never forming the `D x D` covariance: each iteration is two passes over the data, so a
/// few thousand 2048-wide embeddings take a fraction of a second in a release build. Components
/// are unique up to sign; each is signed so that its largest-magnitude entry is positive.
public struct PCA {
    /// Column means `[D]`.
    public let mean: [Double]
    /// Principal directions, `components[k]` of length `D`, orthonormal, by decreasing variance.
    public let components: [[Double]]
    /// Variance along each component (covariance eigenvalue, divisor `N - 1`).
    public let explainedVariance: [Double]

    /// Fits `componentCount` components to `points` (`[count, dimension]`, row-major).
    ///
    /// Iteration stops when every component satisfies `|C v - lambda v| <= tolerance * lambda_1`,
    /// or when the variance the components capture changes by less than `tolerance^2` (relative)
    /// from one iteration to the next, or after `maxIterations`. The default is ample for a plot;
    /// pass a smaller tolerance for components accurate to rounding.
    public init(fitting points: [Float], count n: Int, dimension d: Int, components componentCount: Int = 2,
                maxIterations: Int = 100, tolerance: Double = 1e-6) {
        precondition(n > 0 && d > 0 && points.count == n * d, "PCA: \(points.count) values are not \(n) x \(d)")
        precondition(componentCount > 0 && componentCount <= d, "PCA: \(componentCount) components of \(d) dimensions")
        let k = componentCount
        // A few extra vectors speed convergence of the leading ones (the rate is lambda_{b+1} / lambda_k).
        let b = min(d, k + 6)
        var mean = [Double](repeating: 0, count: d)
        points.withUnsafeBufferPointer { x in
            mean.withUnsafeMutableBufferPointer { m in
                for i in 0..<n { for j in 0..<d { m[j] += Double(x[i * d + j]) } }
                for j in 0..<d { m[j] /= Double(n) }
            }
        }

        // basis: [b, D] orthonormal rows; product: [b, D] = C basis (rows).
        var basis = [Double](repeating: 0, count: b * d)
        var seed: UInt64 = 0x9E37_79B9_7F4A_7C15
        for i in 0..<(b * d) { basis[i] = Self.pseudoRandom(&seed) }
        Self.orthonormalizeRows(&basis, rows: b, columns: d, seed: &seed)
        var product = [Double](repeating: 0, count: b * d)
        var ritzValues = [Double](repeating: 0, count: b)
        var ritzVectors = [Double](repeating: 0, count: b * d)
        var previousCaptured = 0.0
        for iteration in 0..<maxIterations {
            Self.covarianceTimes(points, mean: mean, n: n, d: d, basis: basis, rows: b, into: &product)
            // Rayleigh-Ritz: the projected matrix T = basis C basis^T, its eigenpairs, rotated back.
            var t = [Double](repeating: 0, count: b * b)
            for p in 0..<b {
                for q in 0..<b {
                    var s = 0.0
                    for j in 0..<d { s += basis[p * d + j] * product[q * d + j] }
                    t[p * b + q] = s
                }
            }
            for p in 0..<b { for q in 0..<p { let s = (t[p * b + q] + t[q * b + p]) / 2; t[p * b + q] = s; t[q * b + p] = s } }
            let (values, vectors) = Self.symmetricEigen(t, size: b)
            var rotatedProduct = [Double](repeating: 0, count: b * d)
            for r in 0..<b {
                for j in 0..<d {
                    var v = 0.0, w = 0.0
                    for p in 0..<b {
                        v += vectors[p * b + r] * basis[p * d + j]
                        w += vectors[p * b + r] * product[p * d + j]
                    }
                    ritzVectors[r * d + j] = v
                    rotatedProduct[r * d + j] = w
                }
            }
            ritzValues = values
            // Converged when C v = lambda v holds for the leading k pairs, relative to the largest.
            let scale = max(abs(values[0]), 1e-300)
            var worst = 0.0
            for r in 0..<k {
                var residual = 0.0
                for j in 0..<d {
                    let e = rotatedProduct[r * d + j] - values[r] * ritzVectors[r * d + j]
                    residual += e * e
                }
                worst = max(worst, residual.squareRoot() / scale)
            }
            // A spectrum with near-equal leading eigenvalues (common in embeddings) leaves the
            // vectors wandering inside an eigenspace while the variance they capture no longer
            // changes; for a projection to plot that is as good as converged.
            let captured = values.prefix(k).reduce(0, +)
            let stalled = iteration >= 10 && abs(captured - previousCaptured) <= tolerance * tolerance * abs(captured)
            previousCaptured = captured
            if worst <= tolerance || stalled || iteration == maxIterations - 1 { break }
            basis = rotatedProduct
            Self.orthonormalizeRows(&basis, rows: b, columns: d, seed: &seed)
        }

        var components: [[Double]] = []
        for r in 0..<k {
            var v = Array(ritzVectors[(r * d)..<((r + 1) * d)])
            let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            if norm > 0 { v = v.map { $0 / norm } }
            let largest = v.indices.max { abs(v[$0]) < abs(v[$1]) } ?? 0
            if v[largest] < 0 { v = v.map { -$0 } }
            components.append(v)
        }
        self.mean = mean
        self.components = components
        explainedVariance = Array(ritzValues.prefix(k)).map { max($0, 0) }
    }

    /// Coordinates of `points` (`[count, D]`) along the components: `[count, components]`,
    /// row-major.
    public func transform(_ points: [Float], count n: Int) -> [Double] {
        let d = mean.count, k = components.count
        precondition(points.count == n * d, "PCA.transform: \(points.count) values are not \(n) x \(d)")
        var out = [Double](repeating: 0, count: n * k)
        points.withUnsafeBufferPointer { x in
            for i in 0..<n {
                for r in 0..<k {
                    var s = 0.0
                    let component = components[r]
                    for j in 0..<d { s += (Double(x[i * d + j]) - mean[j]) * component[j] }
                    out[i * k + r] = s
                }
            }
        }
        return out
    }

    /// Fits two components and returns each point's coordinates, ready for a `ScatterPlot`.
    public static func project2D(_ points: [Float], count n: Int, dimension d: Int) -> (x: [Double], y: [Double]) {
        let pca = PCA(fitting: points, count: n, dimension: d, components: min(2, d))
        let coordinates = pca.transform(points, count: n)
        let k = pca.components.count
        return ((0..<n).map { coordinates[$0 * k] }, (0..<n).map { k > 1 ? coordinates[$0 * k + 1] : 0 })
    }

    /// `product[r] = C basis[r]` for each row, with `C = Xc^T Xc / (n - 1)` applied as two
    /// passes over the centred data instead of forming it.
    private static func covarianceTimes(_ points: [Float], mean: [Double], n: Int, d: Int, basis: [Double], rows b: Int,
                                        into product: inout [Double]) {
        let centred = UnsafeMutablePointer<Double>.allocate(capacity: d)
        defer { centred.deallocate() }
        let projections = UnsafeMutablePointer<Double>.allocate(capacity: b)
        defer { projections.deallocate() }
        let divisor = Double(max(n - 1, 1))
        points.withUnsafeBufferPointer { xBuffer in
            mean.withUnsafeBufferPointer { meanBuffer in
                basis.withUnsafeBufferPointer { basisBuffer in
                    product.withUnsafeMutableBufferPointer { productBuffer in
                        let x = xBuffer.baseAddress!, m = meanBuffer.baseAddress!
                        let v = basisBuffer.baseAddress!, w = productBuffer.baseAddress!
                        w.update(repeating: 0, count: b * d)
                        for i in 0..<n {
                            let row = x + i * d
                            for j in 0..<d { centred[j] = Double(row[j]) - m[j] }
                            for r in 0..<b { projections[r] = dot(centred, v + r * d, d) / divisor }
                            for r in 0..<b {
                                let wr = w + r * d, s = projections[r]
                                for j in 0..<d { wr[j] += s * centred[j] }
                            }
                        }
                    }
                }
            }
        }
    }

    /// `sum(a[j] * b[j])` with four independent partial sums, so the loop vectorises.
    private static func dot(_ a: UnsafePointer<Double>, _ b: UnsafePointer<Double>, _ n: Int) -> Double {
        var acc = SIMD4<Double>(repeating: 0)
        var j = 0
        while j + 4 <= n {
            acc += SIMD4(a[j], a[j + 1], a[j + 2], a[j + 3]) * SIMD4(b[j], b[j + 1], b[j + 2], b[j + 3])
            j += 4
        }
        var s = acc.sum()
        while j < n {
            s += a[j] * b[j]
            j += 1
        }
        return s
    }

    /// Gram-Schmidt on the rows (twice, for orthogonality to rounding); a row that all but vanishes
    /// (the data has fewer directions than there are rows) is replaced by a fresh random one.
    private static func orthonormalizeRows(_ m: inout [Double], rows: Int, columns d: Int, seed: inout UInt64) {
        func norm(_ r: Int) -> Double {
            var s = 0.0
            for j in 0..<d { s += m[r * d + j] * m[r * d + j] }
            return s.squareRoot()
        }
        for r in 0..<rows {
            for attempt in 0..<4 {
                let before = norm(r)
                for _ in 0..<2 {
                    for p in 0..<r {
                        var dot = 0.0
                        for j in 0..<d { dot += m[r * d + j] * m[p * d + j] }
                        for j in 0..<d { m[r * d + j] -= dot * m[p * d + j] }
                    }
                }
                let after = norm(r)
                if after > 1e-10 * before || attempt == 3 {
                    let inverse = after > 0 ? 1 / after : 0
                    for j in 0..<d { m[r * d + j] *= inverse }
                    break
                }
                for j in 0..<d { m[r * d + j] = pseudoRandom(&seed) }
            }
        }
    }

    /// Eigenvalues (descending) and eigenvectors (columns of the row-major result) of a small
    /// symmetric matrix, by cyclic Jacobi rotations.
    static func symmetricEigen(_ matrix: [Double], size n: Int) -> (values: [Double], vectors: [Double]) {
        var a = matrix
        var v = [Double](repeating: 0, count: n * n)
        for i in 0..<n { v[i * n + i] = 1 }
        for _ in 0..<100 {
            var off = 0.0
            for p in 0..<n { for q in (p + 1)..<n { off += a[p * n + q] * a[p * n + q] } }
            if off < 1e-30 * max(1e-300, (0..<n).reduce(0) { $0 + a[$1 * n + $1] * a[$1 * n + $1] }) { break }
            for p in 0..<n {
                for q in (p + 1)..<n where a[p * n + q] != 0 {
                    // The rotation angle that zeroes a[p][q] (Numerical Recipes' stable form).
                    let theta = (a[q * n + q] - a[p * n + p]) / (2 * a[p * n + q])
                    let t = (theta >= 0 ? 1.0 : -1.0) / (abs(theta) + (theta * theta + 1).squareRoot())
                    let c = 1 / (t * t + 1).squareRoot(), s = t * c
                    for k in 0..<n {
                        let akp = a[k * n + p], akq = a[k * n + q]
                        a[k * n + p] = c * akp - s * akq
                        a[k * n + q] = s * akp + c * akq
                    }
                    for k in 0..<n {
                        let apk = a[p * n + k], aqk = a[q * n + k]
                        a[p * n + k] = c * apk - s * aqk
                        a[q * n + k] = s * apk + c * aqk
                    }
                    for k in 0..<n {
                        let vkp = v[k * n + p], vkq = v[k * n + q]
                        v[k * n + p] = c * vkp - s * vkq
                        v[k * n + q] = s * vkp + c * vkq
                    }
                }
            }
        }
        let order = (0..<n).sorted { a[$0 * n + $0] > a[$1 * n + $1] }
        var vectors = [Double](repeating: 0, count: n * n)
        for (column, source) in order.enumerated() { for k in 0..<n { vectors[k * n + column] = v[k * n + source] } }
        return (order.map { a[$0 * n + $0] }, vectors)
    }

    /// A deterministic value in [-1, 1) (splitmix64), so a fit is reproducible.
    private static func pseudoRandom(_ state: inout UInt64) -> Double {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return Double(z >> 11) * 0x1p-52 - 1
    }
}
