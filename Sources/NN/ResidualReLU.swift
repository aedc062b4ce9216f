import Tensors

/// The end of a residual block: `y = max(0, a + b)` (main path plus shortcut), fused in one pass.
/// Backward returns the one gradient both branches receive.
final class ResidualReLU: WorkspaceOwner {
    private var output = Workspace()

    var workspaceTensors: [Tensor] { output.held }

    /// a, b: [N, H, W, C] -> y: [N, H, W, C]
    func forward(_ a: Tensor, _ b: Tensor) -> Tensor {
        precondition(a.shape == b.shape, "ResidualReLU: main path \(a.shape) and shortcut \(b.shape) differ")
        let outerKind = LayerTimings.enter(.activation)
        defer { LayerTimings.enter(outerKind) }
        let y = output.get(a.shape)
        let ap = a.data, bp = b.data, yp = y.data
        parallelFor(a.count, grain: 16_384) { range in
            var i = range.lowerBound
            while i + 16 <= range.upperBound {
                let v = ap.load16(i) + bp.load16(i)
                yp.store16(i, v.replacing(with: 0, where: v .<= 0))
                i += 16
            }
            while i < range.upperBound {
                let v = ap[i] + bp[i]
                yp[i] = v <= 0 ? 0 : v
                i += 1
            }
        }
        return y
    }

    /// dy: [N, H, W, C] -> d(a + b): [N, H, W, C]
    func backward(_ dy: Tensor) -> Tensor {
        guard let y = output.tensor else { preconditionFailure("ResidualReLU: backward before forward") }
        precondition(dy.shape == y.shape, "ResidualReLU: dy \(dy.shape) does not match y \(y.shape)")
        let outerKind = LayerTimings.enter(.activation)
        defer { LayerTimings.enter(outerKind) }
        let d = Tensor(pooled: dy.shape)
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
