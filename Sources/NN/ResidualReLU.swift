import Tensors

/// The end of a residual block: `y = max(0, a + b)` with `a` the main path's last BatchNorm and `b`
/// the shortcut (the block's input, or the downsampling BatchNorm), both normalisations applied here
/// as their inputs are read (`BatchNorm.deferredForward`), so that neither writes an output of its
/// own: one pass over the data instead of three, and two activation-sized buffers fewer per block.
/// Backward returns the one gradient both branches' normalised values receive.
final class ResidualReLU: WorkspaceOwner {
    /// Where the time of forward and backward is charged; nil records nothing.
    let timings: LayerTimings?
    private var output = Workspace()
    /// The last forward's output, for backward.
    private var kept: Tensor?

    /// With `timings`, forward and backward record their time there.
    init(timings: LayerTimings? = nil) {
        self.timings = timings
    }

    var workspaceTensors: [Tensor] { output.held }

    /// main: the main path's last normalisation; shortcut: the downsampling one -> y: [N, H, W, C]
    func forward(_ main: BatchNorm.Normalization, _ shortcut: BatchNorm.Normalization, mode: Mode) -> Tensor {
        join(main, shortcut.x, shortcut.scale, shortcut.shift, mode: mode)
    }

    /// main: the main path's last normalisation; identity: the block's input -> y: [N, H, W, C]
    func forward(_ main: BatchNorm.Normalization, identity: Tensor, mode: Mode) -> Tensor {
        join(main, identity, nil, nil, mode: mode)
    }

    /// y = max(0, a·sa + ta + b') per channel, b' = b·sb + tb, or b without a map.
    private func join(_ main: BatchNorm.Normalization, _ b: Tensor, _ sb: UnsafePointer<Float>?,
                      _ tb: UnsafePointer<Float>?, mode: Mode) -> Tensor {
        let a = main.x
        precondition(a.shape == b.shape, "ResidualReLU: main path \(a.shape) and shortcut \(b.shape) differ")
        let outerKind = timings.enter(.activation)
        defer { timings.enter(outerKind) }
        let y = output.output(a.shape, mode: mode)
        kept = keptForBackward(y, mode)
        let c = a.shape.last!, rows = a.count / c
        let ap = a.data, bp = b.data, yp = y.data, sa = main.scale, ta = main.shift
        parallelFor(rows, grain: Swift.max(1, 16_384 / c)) { range in
            for r in range {
                let ar = ap + r * c, br = bp + r * c, yr = yp + r * c
                var j = 0
                while j + 16 <= c {
                    var v = ar.load16(j) * sa.load16(j) + ta.load16(j)
                    if let sb, let tb { v += br.load16(j) * sb.load16(j) + tb.load16(j) } else { v += br.load16(j) }
                    yr.store16(j, v.replacing(with: 0, where: v .<= 0))
                    j += 16
                }
                while j < c {
                    var v = ar[j] * sa[j] + ta[j]
                    if let sb, let tb { v += br[j] * sb[j] + tb[j] } else { v += br[j] }
                    yr[j] = v <= 0 ? 0 : v
                    j += 1
                }
            }
        }
        return y
    }

    /// dy: [N, H, W, C] -> the gradient of a + b (of both branches' normalised values): [N, H, W, C];
    /// with `overwriting`, written over dy.
    func backward(_ dy: Tensor, overwriting: Bool = false) -> Tensor {
        guard let y = kept else { preconditionFailure("ResidualReLU: backward before forward") }
        precondition(dy.shape == y.shape, "ResidualReLU: dy \(dy.shape) does not match y \(y.shape)")
        let outerKind = timings.enter(.activation)
        defer { timings.enter(outerKind) }
        let d = overwriting ? dy : Tensor(pooled: dy.shape)
        let yp = y.data, dyp = dy.data, dp = d.data
        parallelFor(dy.count, grain: 16_384) { range in
            var i = range.lowerBound
            while i + 16 <= range.upperBound {
                dp.store16(i, dyp.load16(i).replacing(with: 0, where: yp.load16(i) .<= 0))
                i += 16
            }
            while i < range.upperBound {
                dp[i] = yp[i] > 0 ? dyp[i] : 0
                i += 1
            }
        }
        return d
    }
}
