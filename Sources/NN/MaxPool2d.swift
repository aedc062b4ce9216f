import Tensors

/// Max pooling over channels-last images (torchvision's stem uses kernel 3, stride 2, padding 1).
/// Padding never wins (it counts as -∞). Backward sends each output's gradient to the first maximum
/// of its window in row-major order, as PyTorch does; it finds it again by comparing the input with
/// the output instead of storing indices.
public final class MaxPool2d: Layer, WorkspaceOwner {
    public let kernelSize, stride, padding: Int
    /// Where the time of forward and backward is charged; nil records nothing.
    let timings: LayerTimings?
    private var output = Workspace()
    private var input: Tensor?

    /// With `timings`, forward and backward record their time there.
    public init(kernelSize: Int = 3, stride: Int = 2, padding: Int = 1, timings: LayerTimings? = nil) {
        precondition(kernelSize > 0 && stride > 0 && padding >= 0 && 2 * padding <= kernelSize,
                     "MaxPool2d: bad geometry k\(kernelSize) s\(stride) p\(padding) (padding must be at most half the kernel)")
        self.kernelSize = kernelSize; self.stride = stride; self.padding = padding
        self.timings = timings
    }

    var workspaceTensors: [Tensor] { output.held }

    private func outputSize(_ size: Int) -> Int { (size + 2 * padding - kernelSize) / stride + 1 }

    /// x: [N, H, W, C] -> y: [N, OH, OW, C]
    public func forward(_ x: Tensor, mode: Mode) -> Tensor {
        precondition(x.rank == 4, "MaxPool2d: expected [N, H, W, C], got \(x.shape)")
        let (n, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (oh, ow) = (outputSize(h), outputSize(w))
        precondition(oh > 0 && ow > 0, "MaxPool2d: input \(x.shape) is smaller than the kernel \(kernelSize)")
        let outerKind = timings.enter(.pooling)
        defer { timings.enter(outerKind) }
        input = keptForBackward(x, mode)
        let y = output.output([n, oh, ow, c], mode: mode)
        let src = x.data, dst = y.data
        let (k, s, p) = (kernelSize, stride, padding)
        parallelFor(n * oh, grain: 4) { range in
            for row in range {
                let image = src + (row / oh) * h * w * c, oy = row % oh
                for ox in 0..<ow {
                    let out = dst + (row * ow + ox) * c
                    out.update(repeating: -.infinity, count: c)
                    for iy in Swift.max(0, oy * s - p)..<Swift.min(h, oy * s - p + k) {
                        for ix in Swift.max(0, ox * s - p)..<Swift.min(w, ox * s - p + k) {
                            let pixel = image + (iy * w + ix) * c
                            for j in 0..<c { out[j] = Swift.max(out[j], pixel[j]) }
                        }
                    }
                }
            }
        }
        return y
    }

    /// dy: [N, OH, OW, C] -> dx: [N, H, W, C]
    public func backward(_ dy: Tensor) -> Tensor {
        guard let x = input, let y = output.tensor else { preconditionFailure("MaxPool2d: backward before forward") }
        precondition(dy.shape == y.shape, "MaxPool2d: dy \(dy.shape) does not match y \(y.shape)")
        let (n, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (oh, ow) = (y.shape[1], y.shape[2])
        let outerKind = timings.enter(.pooling)
        defer { timings.enter(outerKind) }
        let dx = Tensor(pooled: x.shape)
        dx.fill(0)
        let xp = x.data, yp = y.data, dyp = dy.data, dxp = dx.data
        let (k, s, p) = (kernelSize, stride, padding)
        // Parallel over images: overlapping windows of one image add into the same pixels.
        parallelFor(n) { range in
            for i in range {
                let image = xp + i * h * w * c, dImage = dxp + i * h * w * c
                for oy in 0..<oh {
                    let ys = Swift.max(0, oy * s - p)..<Swift.min(h, oy * s - p + k)
                    for ox in 0..<ow {
                        let xs = Swift.max(0, ox * s - p)..<Swift.min(w, ox * s - p + k)
                        let o = ((i * oh + oy) * ow + ox) * c
                        for j in 0..<c {
                            let best = yp[o + j]
                            search: for iy in ys {
                                for ix in xs where image[(iy * w + ix) * c + j] == best {
                                    dImage[(iy * w + ix) * c + j] += dyp[o + j]
                                    break search
                                }
                            }
                        }
                    }
                }
            }
        }
        return dx
    }
}
