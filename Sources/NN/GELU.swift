#if canImport(Glibc)
import Glibc
#endif
import Tensors

/// `y = x·Φ(x) = x/2·(1 + erf(x/√2))`, element-wise on any shape: the exact GELU (torch's
/// `nn.GELU()` default, not the tanh approximation). Backward uses `Φ(x) + x·φ(x)` with φ the
/// standard normal density, from the kept input.
public final class GELU: Layer, WorkspaceOwner {
    private var output = Workspace()
    private var input: Tensor?

    public init() {}

    var workspaceTensors: [Tensor] { output.held }

    /// x: any shape -> y: same shape
    public func forward(_ x: Tensor, mode: Mode) -> Tensor {
        input = keptForBackward(x, mode)
        let y = output.output(x.shape, mode: mode)
        let src = x.data, dst = y.data
        parallelFor(x.count, grain: 16_384) { range in
            for i in range {
                let v = src[i]
                dst[i] = 0.5 * v * (1 + erf(v * GELU.invSqrt2))
            }
        }
        return y
    }

    public func backward(_ dy: Tensor) -> Tensor {
        guard let x = input else { preconditionFailure("GELU: backward before forward") }
        precondition(dy.shape == x.shape, "GELU: dy \(dy.shape) does not match x \(x.shape)")
        let dx = Tensor(pooled: dy.shape)
        let xp = x.data, dyp = dy.data, dxp = dx.data
        parallelFor(dy.count, grain: 16_384) { range in
            for i in range {
                let v = xp[i]
                let cdf = 0.5 * (1 + erf(v * GELU.invSqrt2))
                let pdf = GELU.invSqrt2Pi * exp(-0.5 * v * v)
                dxp[i] = dyp[i] * (cdf + v * pdf)
            }
        }
        return dx
    }

    private static let invSqrt2: Float = 0.70710678118654752
    private static let invSqrt2Pi: Float = 0.39894228040143268
}
