import CBLAS

/// The one place that knows BLAS's row-major, transpose and leading-dimension rules.
///
/// Computes `c = alpha * op(a) * op(b) + beta * c` with every matrix row-major:
/// `op(a)` is `[m, k]`, `op(b)` is `[k, n]`, `c` is `[m, n]`. When `transA` is set, `a` is stored as
/// `[k, m]` (likewise `b` as `[n, k]`). Leading dimensions default to the dense row lengths.
@inline(__always)
public func gemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
                 alpha: Float = 1, a: UnsafePointer<Float>, lda: Int? = nil,
                 b: UnsafePointer<Float>, ldb: Int? = nil,
                 beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int? = nil) {
    if m == 0 || n == 0 { return }
    let lda = lda ?? (transA ? m : k)
    let ldb = ldb ?? (transB ? k : n)
    let ldc = ldc ?? n
    let ta = transA ? CblasTrans : CblasNoTrans, tb = transB ? CblasTrans : CblasNoTrans
    // The rank's compute threads split the product into blocks of rows (or of columns, when there
    // are few rows), each a one-thread OpenBLAS call: one pool owns the cores, and no idle BLAS
    // thread spins beside the element-wise loops that run between products.
    let parts = Threads.available
    let work = m * n * k
    if parts > 1 && work >= 1 << 21 && max(m, n) >= 2 * 16 {
        if m >= n || m >= 64 * parts {
            // Up to `chunksPerThread` blocks per thread, of 256 rows or more (each block packs B again).
            let blocks = parts * Swift.max(1, Swift.min(Threads.chunksPerThread, m / (256 * parts)))
            let block = (m + blocks - 1) / blocks
            Threads.parallel(blocks) { t in
                let lo = t * block, rows = min(m, lo + block) - lo
                guard rows > 0 else { return }
                let aBlock = transA ? a + lo : a + lo * lda
                cblas_sgemm(CblasRowMajor, ta, tb, Int32(rows), Int32(n), Int32(k), alpha, aBlock, Int32(lda),
                            b, Int32(ldb), beta, c + lo * ldc, Int32(ldc))
            }
        } else {
            // Column blocks of 16 keep each block's stores aligned to the kernels' width.
            let block = ((n + parts - 1) / parts + 15) / 16 * 16
            Threads.parallel(parts) { t in
                let lo = t * block, cols = min(n, lo + block) - lo
                guard cols > 0 else { return }
                let bBlock = transB ? b + lo * ldb : b + lo
                cblas_sgemm(CblasRowMajor, ta, tb, Int32(m), Int32(cols), Int32(k), alpha, a, Int32(lda),
                            bBlock, Int32(ldb), beta, c + lo, Int32(ldc))
            }
        }
        return
    }
    cblas_sgemm(CblasRowMajor, ta, tb, Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c,
                Int32(ldc))
}

/// The plain triple loop `gemm` must agree with; kept beside it for tests.
public func referenceGemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
                          alpha: Float = 1, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                          beta: Float = 0, c: UnsafeMutablePointer<Float>) {
    for i in 0..<m {
        for j in 0..<n {
            var acc: Double = 0
            for p in 0..<k {
                let av = transA ? a[p * m + i] : a[i * k + p]
                let bv = transB ? b[j * k + p] : b[p * n + j]
                acc += Double(av) * Double(bv)
            }
            c[i * n + j] = alpha * Float(acc) + (beta == 0 ? 0 : beta * c[i * n + j])
        }
    }
}

/// `y += alpha * x` over `n` floats.
@inline(__always)
public func axpy(_ n: Int, _ alpha: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
    cblas_saxpy(Int32(n), alpha, x, 1, y, 1)
}

/// The dot product of two `n`-float vectors.
@inline(__always)
public func dot(_ n: Int, _ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>) -> Float {
    cblas_sdot(Int32(n), x, 1, y, 1)
}

/// The Euclidean norm of an `n`-float vector.
@inline(__always)
public func norm2(_ n: Int, _ x: UnsafePointer<Float>) -> Float {
    cblas_snrm2(Int32(n), x, 1)
}
