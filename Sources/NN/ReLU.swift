import Tensors

/// `y = max(0, x)`, element-wise on any shape. Backward passes `dy` where the output is positive
/// (the derivative at 0 is taken as 0, as PyTorch does).
public final class ReLU: Layer, WorkspaceOwner {
    /// Where the time of forward and backward is charged; nil records nothing.
    let timings: LayerTimings?
    private var output = Workspace()
    /// The last forward's output, for backward.
    private var kept: Tensor?

    /// With `timings`, forward and backward record their time there.
    public init(timings: LayerTimings? = nil) {
        self.timings = timings
    }

    var workspaceTensors: [Tensor] { output.held }

    /// x: any shape -> y: same shape
    public func forward(_ x: Tensor, mode: Mode) -> Tensor {
        let outerKind = timings.enter(.activation)
        defer { timings.enter(outerKind) }
        let y = output.output(x.shape, mode: mode)
        kept = keptForBackward(y, mode)
        let src = x.data, dst = y.data
        parallelFor(x.count, grain: 16_384) { range in
            for i in range { dst[i] = Swift.max(0, src[i]) }
        }
        return y
    }

    public func backward(_ dy: Tensor) -> Tensor {
        guard let y = kept else { preconditionFailure("ReLU: backward before forward") }
        precondition(dy.shape == y.shape, "ReLU: dy \(dy.shape) does not match y \(y.shape)")
        let outerKind = timings.enter(.activation)
        defer { timings.enter(outerKind) }
        let dx = Tensor(pooled: dy.shape)
        let yp = y.data, dyp = dy.data, dxp = dx.data
        parallelFor(dy.count, grain: 16_384) { range in
            for i in range { dxp[i] = yp[i] > 0 ? dyp[i] : 0 }
        }
        return dx
    }
}
