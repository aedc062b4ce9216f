import Tensors

/// Batch normalisation over the last (channel) dimension of channels-last data: `[N, H, W, C]`
/// (torch's BatchNorm2d) or `[N, C]` (BatchNorm1d), statistics per channel over all other positions.
///
/// PyTorch semantics: in `.training` the batch is normalised with its biased variance and the
/// running statistics move by `momentum` towards the batch mean and the *unbiased* batch variance;
/// in `.evaluation` the running statistics normalise and nothing is updated.
///
/// Synchronised across ranks when `reducer` is set (training mode only): forward sums per-channel
/// `[Σx, count]` and then `Σ(x - mean)²` over all ranks, so every rank normalises with the global
/// batch statistics; backward sums `[Σdy, Σdy·x̂]`, so every rank's input gradient is exactly its
/// rows of the whole-batch gradient. Parameter gradients use the *local* sums: the trainer's gradient all-reduce
/// (a sum over ranks) then makes them global.
///
/// With `fusedReLU` the output is `max(0, BN(x))`, saving a pass and a buffer.
public final class BatchNorm: Layer, WorkspaceOwner {
    public let name: String
    public let channels: Int
    public let affine: Bool
    public let fusedReLU: Bool
    public let momentum: Float
    public let eps: Float
    /// γ `[C]`, nil when not affine.
    public let weight: Parameter?
    /// β `[C]`, nil when not affine.
    public let bias: Parameter?
    public let runningMean: Tensor  // [C]
    public let runningVar: Tensor  // [C]
    public let numBatchesTracked: Tensor  // [] (a count, stored as a float)
    /// Sums a small float buffer in place across ranks (an MPI all-reduce); nil for local statistics.
    public var reducer: ((UnsafeMutablePointer<Float>, Int) -> Void)?
    /// Where the time of forward and backward is charged; nil records nothing.
    let timings: LayerTimings?

    /// Kept alive with the layer: the parameters point into its arenas.
    private let store: ParameterStore
    private var output = Workspace()
    private var input: Tensor?
    private var lastMode = Mode.training
    private var globalCount: Float = 0
    // Per channel: statistics the last forward normalised with, its affine map y = x*scale + shift,
    // and two backward coefficients.
    private let mean, invStd, scale, shift, gradCoefX, gradCoefConst: Tensor  // [C]
    private let exchange: Tensor  // [2C], what the reducer sums
    private let reduction = ChannelReduction()

    /// Registers `name.weight`, `name.bias` (when affine) and the buffers `name.running_mean`,
    /// `name.running_var`, `name.num_batches_tracked`.
    /// - Parameter zeroWeight: start γ at zero (torchvision's `zero_init_residual` for a block's last BN).
    /// - Parameter timings: where forward and backward record their time (nil: nowhere).
    public init(_ store: ParameterStore, name: String, channels: Int, affine: Bool = true,
                fusedReLU: Bool = false, zeroWeight: Bool = false, momentum: Float = 0.1, eps: Float = 1e-5,
                timings: LayerTimings? = nil) {
        precondition(channels > 0, "BatchNorm(\(name)): channels must be positive")
        self.store = store
        self.name = name; self.channels = channels; self.affine = affine; self.fusedReLU = fusedReLU
        self.momentum = momentum; self.eps = eps
        self.timings = timings
        if affine {
            weight = store.parameter(qualified(name, "weight"), shape: [channels], role: .normWeight,
                                     initializer: zeroWeight ? .zeros : .ones)
            bias = store.parameter(qualified(name, "bias"), shape: [channels], role: .normBias, initializer: .zeros)
        } else {
            weight = nil; bias = nil
        }
        runningMean = store.buffer(qualified(name, "running_mean"), shape: [channels], value: 0)
        runningVar = store.buffer(qualified(name, "running_var"), shape: [channels], value: 1)
        numBatchesTracked = store.buffer(qualified(name, "num_batches_tracked"), shape: [], value: 0)
        mean = Tensor(zeros: [channels]); invStd = Tensor(zeros: [channels])
        scale = Tensor(zeros: [channels]); shift = Tensor(zeros: [channels])
        gradCoefX = Tensor(zeros: [channels]); gradCoefConst = Tensor(zeros: [channels])
        exchange = Tensor(zeros: [2 * channels])
    }

    var workspaceTensors: [Tensor] { output.held }

    /// x: [..., C] -> y: [..., C]
    public func forward(_ x: Tensor, mode: Mode) -> Tensor {
        let outerKind = timings.enter(.batchNormForward)
        defer { timings.enter(outerKind) }
        prepare(x, mode: mode)
        let c = channels, rows = x.count / c
        let scale = self.scale.data, shift = self.shift.data
        let y = output.output(x.shape, mode: mode)
        let src = x.data, dst = y.data, relu = fusedReLU
        // With the ReLU, y = v where v = x·scale + shift is positive, else 0; backward recomputes v
        // for the mask instead of reading y.
        parallelFor(rows, grain: Swift.max(1, 16_384 / c)) { range in
            for r in range {
                let xr = src + r * c, yr = dst + r * c
                var j = 0
                while j + 16 <= c {
                    let v = xr.load16(j) * scale.load16(j) + shift.load16(j)
                    yr.store16(j, relu ? v.replacing(with: 0, where: v .<= 0) : v)
                    j += 16
                }
                while j < c {
                    let v = xr[j] * scale[j] + shift[j]
                    yr[j] = relu && v <= 0 ? 0 : v
                    j += 1
                }
            }
        }
        return y
    }

    /// The affine map `y = x·scale + shift` (per channel) that normalises `x`, for a consumer that
    /// applies it as it reads `x`.
    public struct Normalization {
        public let x: Tensor
        public let scale, shift: UnsafePointer<Float>
    }

    /// Forward without an output buffer: the statistics of `x` (updating the running ones in
    /// training, as `forward` does) and the map that normalises it, which the consumer applies as it
    /// reads `x` (the residual join): one activation-sized buffer and one pass fewer. Backward then
    /// takes the gradient of the normalised values as usual; it needs only `x`. Not with `fusedReLU`.
    public func deferredForward(_ x: Tensor, mode: Mode) -> Normalization {
        precondition(!fusedReLU, "BatchNorm(\(name)): a deferred forward has no ReLU to fuse")
        let outerKind = timings.enter(.batchNormForward)
        defer { timings.enter(outerKind) }
        prepare(x, mode: mode)
        return Normalization(x: x, scale: UnsafePointer(scale.data), shift: UnsafePointer(shift.data))
    }

    /// Checks `x`, keeps it for backward, and sets the statistics and the map `x·scale + shift`.
    private func prepare(_ x: Tensor, mode: Mode) {
        precondition(x.rank >= 2 && x.shape.last == channels,
                     "BatchNorm(\(name)): expected [N, ..., \(channels)], got \(x.shape)")
        let c = channels, rows = x.count / c
        input = keptForBackward(x, mode)
        lastMode = mode
        let mean = self.mean.data, invStd = self.invStd.data
        switch mode {
        case .training: batchStatistics(x.data, rows: rows)
        case .evaluation, .inference:
            for j in 0..<c {
                mean[j] = runningMean[j]
                invStd[j] = 1 / (runningVar[j] + eps).squareRoot()
            }
        }
        let scale = self.scale.data, shift = self.shift.data
        for j in 0..<c {
            let gamma = weight?.value[j] ?? 1, beta = bias?.value[j] ?? 0
            scale[j] = gamma * invStd[j]
            shift[j] = beta - mean[j] * scale[j]
        }
    }

    /// Fills `mean`/`invStd` with the (global, when synchronised) batch statistics of `x: [rows, C]`
    /// and updates the running statistics.
    ///
    /// Locally, Σ(x - k) and Σ(x - k)² with k the first row (a shift near the mean, so that the
    /// difference of squares does not cancel), summed in Float over blocks of rows and in Double
    /// across blocks, give the variance to float precision. Across ranks the sums
    /// travel as floats, where `Σx²/n - mean²` would cancel catastrophically for a channel whose mean
    /// is large against its spread; so a synchronised layer sums `[Σx, count]` first and then the
    /// squared deviations from the global mean, two small all-reduces instead of one.
    private func batchStatistics(_ x: UnsafeMutablePointer<Float>, rows: Int) {
        let c = channels
        let mean = self.mean.data, invStd = self.invStd.data
        var count = Double(rows)
        let local = reducer == nil
        // [C] scratch: forward does not need the backward coefficients.
        let variance = gradCoefX.data, k = gradCoefConst.data
        if local { k.update(from: x, count: c) } else { k.update(repeating: 0, count: c) }
        let sums = reduction.reduceInFloat(rows: rows, channels: c, sums: local ? 2 : 1) { range, acc in
            let s1 = acc, s2 = acc + c
            var j = 0
            while j + 16 <= c {
                let kv = k.load16(j)
                var a1 = Vector16(), a2 = Vector16()
                for r in range {
                    let d = (x + r * c).load16(j) - kv
                    a1 += d
                    a2 += d * d
                }
                s1.store16(j, a1)
                if local { s2.store16(j, a2) }
                j += 16
            }
            while j < c {
                var a1: Float = 0, a2: Float = 0
                for r in range {
                    let d = x[r * c + j] - k[j]
                    a1 += d
                    a2 += d * d
                }
                s1[j] = a1
                if local { s2[j] = a2 }
                j += 1
            }
        }
        if let reducer {
            let ex = exchange.data
            for j in 0..<c { ex[j] = Float(sums[j]) }
            ex[c] = Float(rows)
            reducer(ex, c + 1)
            count = Double(ex[c])
            for j in 0..<c { mean[j] = Float(Double(ex[j]) / count) }
            let squares = reduction.reduceInFloat(rows: rows, channels: c, sums: 1) { range, acc in
                var j = 0
                while j + 16 <= c {
                    let mu = mean.load16(j)
                    var a = Vector16()
                    for r in range {
                        let d = (x + r * c).load16(j) - mu
                        a += d * d
                    }
                    acc.store16(j, a)
                    j += 16
                }
                while j < c {
                    var a: Float = 0
                    for r in range {
                        let d = x[r * c + j] - mean[j]
                        a += d * d
                    }
                    acc[j] = a
                    j += 1
                }
            }
            for j in 0..<c { ex[j] = Float(squares[j]) }
            reducer(ex, c)
            for j in 0..<c {
                variance[j] = ex[j] / Float(count)
                invStd[j] = Float(1 / (Double(variance[j]) + Double(eps)).squareRoot())
            }
        } else {
            for j in 0..<c {
                let shifted = sums[j] / count
                mean[j] = Float(Double(k[j]) + shifted)
                let v = Swift.max(0, sums[c + j] / count - shifted * shifted)
                variance[j] = Float(v)
                invStd[j] = Float(1 / (v + Double(eps)).squareRoot())
            }
        }
        precondition(count > 1, "BatchNorm(\(name)): training needs more than one value per channel, got \(count)")
        globalCount = Float(count)
        let m = momentum, unbias = Float(count / (count - 1))
        let rm = runningMean.data, rv = runningVar.data
        for j in 0..<c {
            rm[j] = (1 - m) * rm[j] + m * mean[j]
            rv[j] = (1 - m) * rv[j] + m * variance[j] * unbias
        }
        numBatchesTracked[0] += 1
    }

    /// dy: [..., C] -> dx: [..., C]
    public func backward(_ dy: Tensor) -> Tensor { backward(dy, overwriting: false) }

    /// dy: [..., C] -> dx: [..., C]; with `overwriting`, dx is written over dy (for a caller that
    /// has no further use for dy: one activation-sized block fewer alive during backward).
    public func backward(_ dy: Tensor, overwriting: Bool) -> Tensor {
        guard let x = input else { preconditionFailure("BatchNorm(\(name)): backward before forward") }
        precondition(dy.shape == x.shape, "BatchNorm(\(name)): dy \(dy.shape) does not match x \(x.shape)")
        let outerKind = timings.enter(.batchNormBackward)
        defer { timings.enter(outerKind) }
        let c = channels, rows = x.count / c
        let xp = x.data, dyp = dy.data, relu = fusedReLU
        let mean = self.mean.data, invStd = self.invStd.data, scale = self.scale.data, shift = self.shift.data

        // Σ dy' and Σ dy'·(x - mean), where dy' is dy through the fused ReLU (0 where the
        // pre-activation x·scale + shift, recomputed as forward computed it, is not positive).
        let sums = reduction.reduceInFloat(rows: rows, channels: c, sums: 2) { range, acc in
            let s1 = acc, s2 = acc + c
            var j = 0
            while j + 16 <= c {
                let mu = mean.load16(j), sc = scale.load16(j), sh = shift.load16(j)
                var a1 = Vector16(), a2 = Vector16()
                for r in range {
                    let xv = (xp + r * c).load16(j)
                    var g = (dyp + r * c).load16(j)
                    if relu { g.replace(with: 0, where: xv * sc + sh .<= 0) }
                    a1 += g
                    a2 += g * (xv - mu)
                }
                s1.store16(j, a1)
                s2.store16(j, a2)
                j += 16
            }
            while j < c {
                var a1: Float = 0, a2: Float = 0
                for r in range {
                    let xv = xp[r * c + j]
                    let g = relu && xv * scale[j] + shift[j] <= 0 ? 0 : dyp[r * c + j]
                    a1 += g
                    a2 += g * (xv - mean[j])
                }
                s1[j] = a1
                s2[j] = a2
                j += 1
            }
        }
        let ex = exchange.data
        for j in 0..<c {
            ex[j] = Float(sums[j])
            ex[c + j] = Float(sums[c + j]) * invStd[j]
        }
        if let weight, let bias {
            for j in 0..<c {
                weight.grad[j] += ex[c + j]
                bias.grad[j] += ex[j]
            }
        }
        // dx = γ·invStd·(dy' - mean(dy') - x̂·mean(dy'·x̂)) with batch statistics; γ·invStd·dy' with
        // running ones (they do not depend on x). Written as dx = scale·dy' + coefX·(x - mean) + const.
        let coefX = gradCoefX.data, coefConst = gradCoefConst.data
        switch lastMode {
        case .training:
            reducer?(ex, 2 * c)
            let count = globalCount
            for j in 0..<c {
                coefX[j] = -scale[j] * invStd[j] * ex[c + j] / count
                coefConst[j] = -scale[j] * ex[j] / count
            }
        case .evaluation, .inference:
            coefX.update(repeating: 0, count: c)
            coefConst.update(repeating: 0, count: c)
        }
        // Element i of dx depends on element i of dy alone (and per-channel sums, done above), so
        // it may replace it.
        let dx = overwriting ? dy : Tensor(pooled: x.shape)
        let dxp = dx.data
        parallelFor(rows, grain: Swift.max(1, 16_384 / c)) { range in
            for r in range {
                let xr = xp + r * c, dyr = dyp + r * c, dxr = dxp + r * c
                var j = 0
                while j + 16 <= c {
                    let xv = xr.load16(j), sc = scale.load16(j)
                    var g = dyr.load16(j)
                    if relu { g.replace(with: 0, where: xv * sc + shift.load16(j) .<= 0) }
                    dxr.store16(j, sc * g + coefX.load16(j) * (xv - mean.load16(j)) + coefConst.load16(j))
                    j += 16
                }
                while j < c {
                    let xv = xr[j]
                    let g = relu && xv * scale[j] + shift[j] <= 0 ? 0 : dyr[j]
                    dxr[j] = scale[j] * g + coefX[j] * (xv - mean[j]) + coefConst[j]
                    j += 1
                }
            }
        }
        return dx
    }
}
