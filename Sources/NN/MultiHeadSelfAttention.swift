#if canImport(Glibc)
import Glibc
#endif
import Tensors

/// Multi-head self-attention as torchvision's ViT uses `nn.MultiheadAttention(D, heads,
/// batch_first=True)`, called with the input as query, key and value (no mask, no dropout):
///
///     [q | k | v] = x · in_proj_weightᵀ + in_proj_bias        each [B, T, D], head j in columns j·hd..<(j+1)·hd
///     P_j = softmax(q_j · k_jᵀ / √hd)                          [B, T, T] per head, over the last index
///     y = [P_1·v_1 | ... | P_H·v_H] · out_proj.weightᵀ + out_proj.bias
///
/// Parameters carry torch's names and layouts (`in_proj_weight` stacks the q, k and v projections
/// as rows), so a torchvision state dict loads as it is. Initialised as torch does: Xavier-uniform
/// `in_proj_weight`, uniform ±1/√D `out_proj.weight`, zero biases. Forward keeps the projected
/// q, k, v, every head's softmax and the concatenated head outputs for backward.
public final class MultiHeadSelfAttention: Layer, WorkspaceOwner {
    public let name: String
    public let embedDim, heads: Int
    /// `[3D, D]`: the q, k and v projections, one above the other.
    public let inProjWeight: Parameter
    /// `[3D]`
    public let inProjBias: Parameter
    /// `[D, D]`
    public let outProjWeight: Parameter
    /// `[D]`
    public let outProjBias: Parameter

    /// Kept alive with the layer: the parameters point into its arenas.
    private let store: ParameterStore
    private var qkvSpace = Workspace(), probabilitiesSpace = Workspace(), contextSpace = Workspace()
    private var output = Workspace()
    // What the last forward kept for backward.
    private var input: Tensor?  // [B, T, D]
    private var qkv: Tensor?  // [B, T, 3D]
    private var probabilities: Tensor?  // [B, H, T, T]
    private var context: Tensor?  // [B, T, D], the heads' outputs side by side
    private let reduction = ChannelReduction()

    /// Registers `name.in_proj_weight`, `name.in_proj_bias`, `name.out_proj.weight` and
    /// `name.out_proj.bias` (torch's order).
    public init(_ store: ParameterStore, name: String, embedDim: Int, heads: Int) {
        precondition(embedDim > 0 && heads > 0 && embedDim % heads == 0,
                     "MultiHeadSelfAttention(\(name)): \(embedDim) features do not split into \(heads) heads")
        self.store = store
        self.name = name; self.embedDim = embedDim; self.heads = heads
        let d = embedDim
        // Xavier-uniform over [3D, D] has the bound √(6 / 4D) = 1/√(2D/3): exact when D is a
        // multiple of 3, as every ViT width is.
        inProjWeight = store.parameter(qualified(name, "in_proj_weight"), shape: [3 * d, d], role: .weight,
                                       initializer: .uniformFanIn(fanIn: Swift.max(1, 2 * d / 3)))
        inProjBias = store.parameter(qualified(name, "in_proj_bias"), shape: [3 * d], role: .bias, initializer: .zeros)
        outProjWeight = store.parameter(qualified(name, "out_proj.weight"), shape: [d, d], role: .weight,
                                        initializer: .uniformFanIn(fanIn: d))
        outProjBias = store.parameter(qualified(name, "out_proj.bias"), shape: [d], role: .bias, initializer: .zeros)
    }

    var workspaceTensors: [Tensor] {
        qkvSpace.held + probabilitiesSpace.held + contextSpace.held + output.held
    }

    /// x: [B, T, D] -> y: [B, T, D]
    public func forward(_ x: Tensor, mode: Mode) -> Tensor {
        precondition(x.rank == 3 && x.shape[2] == embedDim,
                     "MultiHeadSelfAttention(\(name)): expected [B, T, \(embedDim)], got \(x.shape)")
        let b = x.shape[0], t = x.shape[1], d = embedDim, h = heads, hd = d / h
        let qkv = qkvSpace.output([b, t, 3 * d], mode: mode)
        let probabilities = probabilitiesSpace.output([b, h, t, t], mode: mode)
        let context = contextSpace.output([b, t, d], mode: mode)
        input = keptForBackward(x, mode)
        self.qkv = keptForBackward(qkv, mode)
        self.probabilities = keptForBackward(probabilities, mode)
        self.context = keptForBackward(context, mode)

        project(x.data, rows: b * t, weight: inProjWeight, bias: inProjBias, into: qkv.data)
        let qkvp = qkv.data, pp = probabilities.data, cp = context.data
        let scale = 1 / Float(hd).squareRoot()
        parallelFor(b * h) { range in
            for bh in range {
                let i = bh / h, j = bh % h
                let q = qkvp + i * t * 3 * d + j * hd, k = q + d, v = q + 2 * d  // rows of stride 3D
                let p = pp + bh * t * t  // [T, T]
                gemm(transB: true, m: t, n: t, k: hd, alpha: scale, a: q, lda: 3 * d, b: k, ldb: 3 * d, c: p)
                for r in 0..<t { softmax(p + r * t, count: t) }
                gemm(m: t, n: hd, k: t, a: p, b: v, ldb: 3 * d, c: cp + i * t * d + j * hd, ldc: d)
            }
        }
        let y = output.output([b, t, d], mode: mode)
        project(context.data, rows: b * t, weight: outProjWeight, bias: outProjBias, into: y.data)
        return y
    }

    /// dy: [B, T, D] -> dx: [B, T, D]
    public func backward(_ dy: Tensor) -> Tensor {
        guard let x = input, let qkv, let probabilities, let context else {
            preconditionFailure("MultiHeadSelfAttention(\(name)): backward before forward")
        }
        precondition(dy.shape == x.shape, "MultiHeadSelfAttention(\(name)): dy \(dy.shape) does not match x \(x.shape)")
        let b = x.shape[0], t = x.shape[1], d = embedDim, h = heads, hd = d / h
        let dContext = Tensor(pooled: [b, t, d])
        projectBackward(dy.data, input: context.data, rows: b * t, weight: outProjWeight, bias: outProjBias,
                        dInput: dContext.data)

        let dqkv = Tensor(pooled: [b, t, 3 * d])
        let dScores = Tensor(pooled: [b, h, t, t])
        let qkvp = qkv.data, pp = probabilities.data, dcp = dContext.data, dqkvp = dqkv.data, dsp = dScores.data
        let scale = 1 / Float(hd).squareRoot()
        parallelFor(b * h) { range in
            for bh in range {
                let i = bh / h, j = bh % h
                let q = qkvp + i * t * 3 * d + j * hd, k = q + d, v = q + 2 * d  // rows of stride 3D
                let dq = dqkvp + i * t * 3 * d + j * hd, dk = dq + d, dv = dq + 2 * d
                let p = pp + bh * t * t, ds = dsp + bh * t * t  // [T, T]
                let dc = dcp + i * t * d + j * hd  // [T, hd], rows of stride D
                // dP = dC · vᵀ;  dv = Pᵀ · dC
                gemm(transB: true, m: t, n: t, k: hd, a: dc, lda: d, b: v, ldb: 3 * d, c: ds)
                gemm(transA: true, m: t, n: hd, k: t, a: p, b: dc, ldb: d, c: dv, ldc: 3 * d)
                // Through the softmax, row by row: dS = P ⊙ (dP - Σ_col dP ⊙ P).
                for r in 0..<t {
                    let pr = p + r * t, dsr = ds + r * t
                    let weighted = dot(t, pr, dsr)
                    for c in 0..<t { dsr[c] = pr[c] * (dsr[c] - weighted) }
                }
                // S = scale · q · kᵀ:  dq = scale · dS · k;  dk = scale · dSᵀ · q
                gemm(m: t, n: hd, k: t, alpha: scale, a: ds, b: k, ldb: 3 * d, c: dq, ldc: 3 * d)
                gemm(transA: true, m: t, n: hd, k: t, alpha: scale, a: ds, b: q, ldb: 3 * d, c: dk, ldc: 3 * d)
            }
        }
        let dx = Tensor(pooled: x.shape)
        projectBackward(dqkv.data, input: x.data, rows: b * t, weight: inProjWeight, bias: inProjBias, dInput: dx.data)
        return dx
    }

    /// y: [rows, out] = x: [rows, in] · weightᵀ + bias, with weight `[out, in]`.
    private func project(_ x: UnsafePointer<Float>, rows: Int, weight: Parameter, bias: Parameter,
                         into y: UnsafeMutablePointer<Float>) {
        let out = weight.shape[0]
        for r in 0..<rows { (y + r * out).update(from: bias.value, count: out) }
        gemm(transB: true, m: rows, n: out, k: weight.shape[1], a: x, b: weight.value, beta: 1, c: y)
    }

    /// The gradients of `project`: dWeight += dyᵀ · x;  dBias += Σ_rows dy;  dInput = dy · weight.
    private func projectBackward(_ dy: UnsafeMutablePointer<Float>, input x: UnsafePointer<Float>, rows: Int,
                                 weight: Parameter, bias: Parameter, dInput: UnsafeMutablePointer<Float>) {
        let out = weight.shape[0], inFeatures = weight.shape[1]
        gemm(transA: true, m: out, n: inFeatures, k: rows, a: dy, b: x, beta: 1, c: weight.grad)
        reduction.addColumnSums(of: dy, rows: rows, channels: out, into: bias.grad)
        gemm(m: rows, n: inFeatures, k: out, a: dy, b: weight.value, c: dInput)
    }
}

/// Replaces `count` scores by their softmax. The largest is subtracted first, so no exponent
/// exceeds 0 and none overflows.
private func softmax(_ row: UnsafeMutablePointer<Float>, count: Int) {
    var largest = row[0]
    for c in 1..<count { largest = Swift.max(largest, row[c]) }
    var total: Float = 0
    for c in 0..<count {
        row[c] = exp(row[c] - largest)
        total += row[c]
    }
    let inverse = 1 / total
    for c in 0..<count { row[c] *= inverse }
}
