import Tensors

/// The mean over all positions of each image and channel: `[N, H, W, C] -> [N, C]`.
public final class GlobalAveragePool: Layer, WorkspaceOwner {
    /// Where the time of forward and backward is charged; nil records nothing.
    let timings: LayerTimings?
    private var output = Workspace()
    private var inputShape: [Int] = []

    /// With `timings`, forward and backward record their time there.
    public init(timings: LayerTimings? = nil) {
        self.timings = timings
    }

    var workspaceTensors: [Tensor] { output.held }

    /// x: [N, H, W, C] -> y: [N, C]
    public func forward(_ x: Tensor, mode: Mode) -> Tensor {
        precondition(x.rank == 4, "GlobalAveragePool: expected [N, H, W, C], got \(x.shape)")
        let (n, positions, c) = (x.shape[0], x.shape[1] * x.shape[2], x.shape[3])
        precondition(positions > 0, "GlobalAveragePool: empty image \(x.shape)")
        let outerKind = timings.enter(.pooling)
        defer { timings.enter(outerKind) }
        inputShape = keptForBackward(x.shape, mode) ?? []
        let y = output.output([n, c], mode: mode)
        let src = x.data, dst = y.data, inverse = 1 / Float(positions)
        parallelFor(n) { range in
            for i in range {
                let yi = dst + i * c
                yi.update(repeating: 0, count: c)
                for p in 0..<positions {
                    let xp = src + (i * positions + p) * c
                    for j in 0..<c { yi[j] += xp[j] }
                }
                for j in 0..<c { yi[j] *= inverse }
            }
        }
        return y
    }

    /// dy: [N, C] -> dx: [N, H, W, C], each position getting dy / (H·W)
    public func backward(_ dy: Tensor) -> Tensor {
        precondition(inputShape.count == 4, "GlobalAveragePool: backward before forward")
        let (n, positions, c) = (inputShape[0], inputShape[1] * inputShape[2], inputShape[3])
        precondition(dy.shape == [n, c], "GlobalAveragePool: dy \(dy.shape) does not match [\(n), \(c)]")
        let outerKind = timings.enter(.pooling)
        defer { timings.enter(outerKind) }
        let dx = Tensor(pooled: inputShape)
        let src = dy.data, dst = dx.data, inverse = 1 / Float(positions)
        parallelFor(n) { range in
            for i in range {
                let dyi = src + i * c
                for p in 0..<positions {
                    let dxp = dst + (i * positions + p) * c
                    for j in 0..<c { dxp[j] = dyi[j] * inverse }
                }
            }
        }
        return dx
    }
}
