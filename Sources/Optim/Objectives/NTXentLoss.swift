import Foundation
import Tensors

/// The normalised temperature-scaled cross-entropy of SimCLR (Chen et al. 2020, eq. 1), over a batch
/// of `2N` projections in which rows `i` and `i + N` are the two views of image `i` (all first
/// views, then all second views).
///
/// With `ẑ_i = z_i / max(‖z_i‖, 1e-12)` (torch's `F.normalize`), `s_ij = ẑ_i · ẑ_j` and
/// `p(i) = (i + N) mod 2N`:
///
///     L = 1/(2N) Σ_i [ log Σ_{j≠i} exp(s_ij / τ) − s_{i,p(i)} / τ ]
///
/// The gradient flows through the normalisation. Every rank of a data-parallel run holds the whole
/// gathered batch, computes this whole loss, and keeps its own rows of `dL/dz`.
///
/// Buffers (`[2N, 2N]` similarities, `[2N, D]` normalised rows) are reused from call to call, so a
/// training step allocates nothing once the batch size stops changing. Not thread-safe: one loss
/// object per training loop.
public final class NTXentLoss {
    /// The softmax temperature τ.
    public let temperature: Float

    /// What one evaluation of the loss reports.
    public struct Output: Sendable, Equatable {
        /// The mean loss over the `2N` anchors.
        public var loss: Float
        /// The fraction of anchors whose most similar other row is their positive (ties go to the
        /// lower row index).
        public var accuracy: Float
    }

    /// torch's `F.normalize` default: norms below this are clamped to it.
    public static let normEpsilon: Float = 1e-12

    private var normalized = Workspace()    // ẑ: [2N, D]
    private var norms = Workspace()         // ‖z_i‖ before clamping: [2N]
    private var similarity = Workspace()    // s, then dL/d(s/τ) in place: [2N, 2N]
    private var rowLoss = Workspace()       // per-anchor loss: [2N]
    private var rowCorrect = Workspace()    // 1 where the positive is the nearest row: [2N]
    private var gradient = Workspace()      // dL/dz when the caller gives no buffer: [2N, D]

    /// - Parameter temperature: τ > 0 (SimCLR uses 0.1 to 0.5).
    public init(temperature: Float) throws {
        guard temperature > 0, temperature.isFinite else {
            throw OptimError.invalidHyperparameter("NT-Xent temperature must be positive, got \(temperature)")
        }
        self.temperature = temperature
    }

    /// The loss and positive-pair accuracy of `z: [2N, D]`, without the gradient.
    public func evaluate(_ z: Tensor) -> Output {
        run(z, dz: nil)
    }

    /// The loss and accuracy of `z: [2N, D]`, writing `dL/dz` into `dz: [2N, D]`.
    public func lossAndGradient(_ z: Tensor, dz: Tensor) -> Output {
        precondition(dz.shape == z.shape, "NTXentLoss: dz \(dz.shape) does not match z \(z.shape)")
        return run(z, dz: dz)
    }

    /// The loss and accuracy of `z: [2N, D]` and `dL/dz: [2N, D]` in a buffer owned by the loss,
    /// valid until the next call.
    public func lossAndGradient(_ z: Tensor) -> (output: Output, dz: Tensor) {
        let dz = gradient.get(z.shape)
        return (run(z, dz: dz), dz)
    }

    private func run(_ z: Tensor, dz: Tensor?) -> Output {
        precondition(z.rank == 2 && z.shape[0] >= 2 && z.shape[0] % 2 == 0,
                     "NTXentLoss: z must be [2N, D] with N >= 1, got \(z.shape)")
        let rows = z.shape[0], d = z.shape[1], half = rows / 2
        let zn = normalized.get([rows, d]), norm = norms.get([rows])
        let s = similarity.get([rows, rows])
        let loss = rowLoss.get([rows]), correct = rowCorrect.get([rows])
        let zp = z.data, znp = zn.data, normp = norm.data, sp = s.data
        let lossp = loss.data, correctp = correct.data
        let eps = Self.normEpsilon

        // ẑ_i = z_i / max(‖z_i‖, eps)
        parallelFor(rows, grain: 64) { range in
            for i in range {
                let zi = zp + i * d, zni = znp + i * d
                var sq: Double = 0
                for k in 0..<d { sq += Double(zi[k]) * Double(zi[k]) }
                let n = Float(sq.squareRoot())
                normp[i] = n
                let inv = 1 / Swift.max(n, eps)
                for k in 0..<d { zni[k] = zi[k] * inv }
            }
        }

        // s = ẑ ẑᵀ: [2N, 2N]
        gemm(transB: true, m: rows, n: rows, k: d, a: znp, b: znp, c: sp)

        // Per anchor: a log-sum-exp over the other rows with the maximum subtracted, and, for the
        // gradient, dL/dl_ij = (softmax_ij − [j = p(i)]) / 2N with l = s/τ, written over s.
        let invTau = 1 / temperature
        let withGradient = dz != nil
        let scale = 1 / Float(rows)
        parallelFor(rows, grain: 16) { range in
            for i in range {
                let si = sp + i * rows
                let positive = (i + half) % rows
                var nearest = i == 0 ? 1 : 0
                for j in 0..<rows where j != i && si[j] > si[nearest] { nearest = j }
                let maxS = si[nearest]
                let positiveS = si[positive]
                si[i] = -Float.infinity    // exp(-inf) = 0 removes the anchor itself
                var sum: Double = 0
                for j in 0..<rows {
                    let e = expf((si[j] - maxS) * invTau)
                    si[j] = e
                    sum += Double(e)
                }
                lossp[i] = Float(Double((maxS - positiveS) * invTau) + Foundation.log(sum))
                correctp[i] = nearest == positive ? 1 : 0
                if withGradient {
                    let r = scale / Float(sum)
                    for j in 0..<rows { si[j] *= r }
                    si[positive] -= scale
                }
            }
        }

        var totalLoss: Double = 0, totalCorrect: Double = 0
        for i in 0..<rows {
            totalLoss += Double(lossp[i])
            totalCorrect += Double(correctp[i])
        }
        let output = Output(loss: Float(totalLoss / Double(rows)), accuracy: Float(totalCorrect / Double(rows)))
        guard let dz else { return output }

        // G = dL/dl (stored in s). s_ij = ẑ_i·ẑ_j appears in rows i and j, so
        // dL/dẑ = (G + Gᵀ) ẑ / τ: two products accumulated into dz.
        let dzp = dz.data
        gemm(m: rows, n: d, k: rows, alpha: invTau, a: sp, b: znp, c: dzp)
        gemm(transA: true, m: rows, n: d, k: rows, alpha: invTau, a: sp, b: znp, beta: 1, c: dzp)

        // Through the normalisation: dz = (dẑ − ẑ (ẑ·dẑ)) / ‖z‖, or dẑ / eps where the norm is clamped
        // (the clamp passes no gradient to the norm).
        parallelFor(rows, grain: 64) { range in
            for i in range {
                let zni = znp + i * d, dzi = dzp + i * d
                let n = normp[i]
                if n >= eps {
                    var projection: Double = 0
                    for k in 0..<d { projection += Double(zni[k]) * Double(dzi[k]) }
                    let p = Float(projection), inv = 1 / n
                    for k in 0..<d { dzi[k] = (dzi[k] - zni[k] * p) * inv }
                } else {
                    let inv = 1 / eps
                    for k in 0..<d { dzi[k] *= inv }
                }
            }
        }
        return output
    }
}
