import Tensors

/// Layer normalisation over the last dimension, as torch's `nn.LayerNorm(D, eps)`: each row of `D`
/// values is normalised by its own mean and biased variance, then scaled by `weight` and shifted by
/// `bias` (ViT uses eps 1e-6, Swin 1e-5). Unlike BatchNorm there are no running statistics: training
/// and evaluation compute the same thing.
public final class LayerNorm: Layer, WorkspaceOwner {
    public let name: String
    public let features: Int
    public let eps: Float
    /// γ `[D]`, starts at one.
    public let weight: Parameter
    /// β `[D]`, starts at zero.
    public let bias: Parameter

    /// Kept alive with the layer: the parameters point into its arenas.
    private let store: ParameterStore
    private var output = Workspace()
    // Per row, the statistics the last forward normalised with.
    private var mean = Workspace(), invStd = Workspace()  // [rows]
    private var input: Tensor?
    private let reduction = ChannelReduction()

    /// Registers `name.weight` and `name.bias`.
    public init(_ store: ParameterStore, name: String, features: Int, eps: Float = 1e-5) {
        precondition(features > 0 && eps > 0, "LayerNorm(\(name)): bad size \(features) or eps \(eps)")
        self.store = store
        self.name = name; self.features = features; self.eps = eps
        weight = store.parameter(qualified(name, "weight"), shape: [features], role: .normWeight, initializer: .ones)
        bias = store.parameter(qualified(name, "bias"), shape: [features], role: .normBias, initializer: .zeros)
    }

    var workspaceTensors: [Tensor] { output.held + mean.held + invStd.held }

    /// x: [..., D] -> y: [..., D]
    public func forward(_ x: Tensor, mode: Mode) -> Tensor {
        precondition(x.rank >= 1 && x.shape.last == features,
                     "LayerNorm(\(name)): expected [..., \(features)], got \(x.shape)")
        let d = features, rows = x.count / d
        input = keptForBackward(x, mode)
        let mean = self.mean.get([rows]).data, invStd = self.invStd.get([rows]).data
        let y = output.output(x.shape, mode: mode)
        let src = x.data, dst = y.data, w = weight.value!, b = bias.value!, eps = eps
        parallelFor(rows, grain: Swift.max(1, 16_384 / d)) { range in
            for r in range {
                let xr = src + r * d, yr = dst + r * d
                // Two passes (mean, then squared deviations from it): one pass's Σx² - n·mean²
                // cancels for rows whose mean is large against their spread.
                var a = Vector16(), tail: Float = 0
                var j = 0
                while j + 16 <= d { a += xr.load16(j); j += 16 }
                while j < d { tail += xr[j]; j += 1 }
                let mu = (a.sum() + tail) / Float(d)
                a = Vector16(); tail = 0; j = 0
                while j + 16 <= d {
                    let dev = xr.load16(j) - mu
                    a += dev * dev
                    j += 16
                }
                while j < d { tail += (xr[j] - mu) * (xr[j] - mu); j += 1 }
                let s = 1 / ((a.sum() + tail) / Float(d) + eps).squareRoot()
                mean[r] = mu; invStd[r] = s
                j = 0
                while j + 16 <= d { yr.store16(j, (xr.load16(j) - mu) * s * w.load16(j) + b.load16(j)); j += 16 }
                while j < d { yr[j] = (xr[j] - mu) * s * w[j] + b[j]; j += 1 }
            }
        }
        return y
    }

    /// dy: [..., D] -> dx: [..., D]
    public func backward(_ dy: Tensor) -> Tensor {
        guard let x = input, let meanT = mean.tensor, let invStdT = invStd.tensor else {
            preconditionFailure("LayerNorm(\(name)): backward before forward")
        }
        precondition(dy.shape == x.shape, "LayerNorm(\(name)): dy \(dy.shape) does not match x \(x.shape)")
        let d = features, rows = x.count / d
        let xp = x.data, dyp = dy.data, mean = meanT.data, invStd = invStdT.data, w = weight.value!

        // dWeight += Σ_rows dy·x̂;  dBias += Σ_rows dy
        let sums = reduction.reduceInFloat(rows: rows, channels: d, sums: 2) { range, acc in
            let sw = acc, sb = acc + d
            for r in range {
                let xr = xp + r * d, dyr = dyp + r * d, mu = mean[r], s = invStd[r]
                var j = 0
                while j + 16 <= d {
                    let g = dyr.load16(j)
                    sw.store16(j, sw.load16(j) + g * ((xr.load16(j) - mu) * s))
                    sb.store16(j, sb.load16(j) + g)
                    j += 16
                }
                while j < d {
                    sw[j] += dyr[j] * ((xr[j] - mu) * s)
                    sb[j] += dyr[j]
                    j += 1
                }
            }
        }
        for j in 0..<d {
            weight.grad[j] += Float(sums[j])
            bias.grad[j] += Float(sums[d + j])
        }

        // With g = dy·γ (the gradient of x̂): dx = invStd·(g - mean(g) - x̂·mean(g·x̂)) over the row.
        let dx = Tensor(pooled: x.shape)
        let dxp = dx.data
        parallelFor(rows, grain: Swift.max(1, 16_384 / d)) { range in
            for r in range {
                let xr = xp + r * d, dyr = dyp + r * d, dxr = dxp + r * d, mu = mean[r], s = invStd[r]
                var sg = Vector16(), sgx = Vector16(), tailG: Float = 0, tailGX: Float = 0
                var j = 0
                while j + 16 <= d {
                    let g = dyr.load16(j) * w.load16(j)
                    sg += g
                    sgx += g * ((xr.load16(j) - mu) * s)
                    j += 16
                }
                while j < d {
                    let g = dyr[j] * w[j]
                    tailG += g
                    tailGX += g * ((xr[j] - mu) * s)
                    j += 1
                }
                let meanG = (sg.sum() + tailG) / Float(d), meanGX = (sgx.sum() + tailGX) / Float(d)
                j = 0
                while j + 16 <= d {
                    let g = dyr.load16(j) * w.load16(j), xhat = (xr.load16(j) - mu) * s
                    dxr.store16(j, s * (g - meanG - xhat * meanGX))
                    j += 16
                }
                while j < d {
                    let xhat = (xr[j] - mu) * s
                    dxr[j] = s * (dyr[j] * w[j] - meanG - xhat * meanGX)
                    j += 1
                }
            }
        }
        return dx
    }
}
