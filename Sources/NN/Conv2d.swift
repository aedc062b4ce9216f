import AVX2Kernels
import Tensors

/// A 2-D convolution over channels-last images, as one matrix product per chunk of images.
///
/// Weights are `[Cout, kh, kw, Cin]` (`.convOHWI`; torchvision's `[Cout, Cin, kh, kw]` on export), so a
/// weight row matches an im2col row ordered `(ky, kx, c)`. Forward fills a column buffer for as many
/// whole images as fit in `columnBudgetBytes` and computes `out[rows, Cout] = col[rows, patch] · Wᵀ`
/// with one `gemm`; a 1x1 stride-1 convolution needs no copy (the input is the column matrix).
/// Backward redoes im2col per chunk, then `dW += dyᵀ · col`, `dcol = dy · W` into the same buffer,
/// and `col2im` (which writes dx). The chunks are spread over the compute threads (`ChunkPlan`),
/// each with its own column buffer from `Scratch`.
///
/// A 3x3 stride-1 padding-1 convolution (ResNet's, except the stride-2 ones) runs its forward pass,
/// its input gradient and its weight gradient by Winograd F(4x4, 3x3) instead
/// (`WinogradConvolution`) when its `KernelPolicy` allows Winograd and it has at least the policy's
/// `winogradMinimumChannels` channels on both sides. A network's first layer, with fewer input
/// channels than that, computes its forward pass directly (`DirectConvolution`) when the policy
/// says so (by default where the CPU has AVX2 and FMA).
public final class Conv2d: Layer, WorkspaceOwner {
    public let name: String
    public let inChannels, outChannels: Int
    public let kernelHeight, kernelWidth, stride, padding: Int
    /// `[Cout, kh, kw, Cin]`
    public let weight: Parameter
    /// `[Cout]`, nil without bias.
    public let bias: Parameter?
    /// The largest column buffer forward and backward may use; a chunk is as many whole images as
    /// fit (at least one). Small enough to stay in the cores' L2 caches between im2col and the
    /// products that read it (and, backward, between the product that writes it and col2im).
    public var columnBudgetBytes = 2 << 20
    /// When false, `backward` computes only the parameter gradients and returns an empty tensor
    /// (a network's first layer does not need the gradient of its input image).
    public var needsInputGradient = true
    /// The largest transformed input plus products of one Winograd chunk (`WinogradConvolution`).
    /// Larger than `columnBudgetBytes`: the 36 products of a chunk have only `Cin` as their inner
    /// dimension (im2col's has `9·Cin`), so they need more rows (tiles) to run at the matrix speed.
    public var winogradBudgetBytes = 8 << 20
    /// Which paths this convolution may take (Winograd, direct first layer).
    public let kernels: KernelPolicy
    /// Where the time of forward and backward is charged; nil records nothing.
    let timings: LayerTimings?

    /// Kept alive with the layer: the parameters point into its arenas.
    private let store: ParameterStore
    private var output = Workspace()
    private var input: Tensor?
    private var geometry: ConvGeometry?
    private let empty = Tensor(zeros: [0])
    private let reduction = ChannelReduction()
    /// Forward and both gradients of an eligible convolution, within `winogradBudgetBytes`.
    let winograd: WinogradConvolution

    /// Registers `name.weight` (Kaiming normal, fan-out, as torchvision's ResNet) and, with `bias`,
    /// `name.bias` (PyTorch's default uniform ±1/sqrt(fan-in)). `kernels` picks the paths it takes;
    /// with `timings`, forward and backward record their time there.
    public init(_ store: ParameterStore, name: String, inChannels: Int, outChannels: Int,
                kernelSize: Int, stride: Int = 1, padding: Int = 0, bias: Bool = false,
                kernels: KernelPolicy, timings: LayerTimings? = nil) {
        precondition(inChannels > 0 && outChannels > 0 && kernelSize > 0 && stride > 0 && padding >= 0,
                     "Conv2d(\(name)): bad geometry \(inChannels)->\(outChannels) k\(kernelSize) s\(stride) p\(padding)")
        self.store = store
        self.name = name
        self.kernels = kernels
        self.timings = timings
        winograd = WinogradConvolution(timings: timings)
        self.inChannels = inChannels; self.outChannels = outChannels
        kernelHeight = kernelSize; kernelWidth = kernelSize; self.stride = stride; self.padding = padding
        weight = store.parameter(qualified(name, "weight"), shape: [outChannels, kernelSize, kernelSize, inChannels],
                                 role: .weight, layout: .convOHWI,
                                 initializer: .kaimingNormalFanOut(fanOut: outChannels * kernelSize * kernelSize))
        self.bias = bias
            ? store.parameter(qualified(name, "bias"), shape: [outChannels], role: .bias,
                              initializer: .uniformFanIn(fanIn: inChannels * kernelSize * kernelSize))
            : nil
    }

    var workspaceTensors: [Tensor] { output.held }

    /// Whether the input itself is the column matrix.
    private var isPointwise: Bool { kernelHeight == 1 && kernelWidth == 1 && stride == 1 && padding == 0 }

    /// Whether forward and the input gradient go through `winograd`.
    var usesWinograd: Bool {
        kernels.winograd && kernelHeight == 3 && kernelWidth == 3 && stride == 1 && padding == 1
            && Swift.min(inChannels, outChannels) >= kernels.winogradMinimumChannels
    }

    /// Whether forward goes through `DirectConvolution`.
    var usesDirectConvolution: Bool {
        kernels.directFirstLayer && inChannels < kernels.winogradMinimumChannels
            && outChannels % DirectConvolution.channelBlock == 0
    }

    /// Images per chunk so that a chunk's columns fit the budget.
    private func imagesPerChunk(_ g: ConvGeometry) -> Int {
        let bytesPerImage = g.outH * g.outW * g.patch * MemoryLayout<Float>.size
        return Swift.max(1, Swift.min(g.n, columnBudgetBytes / Swift.max(1, bytesPerImage)))
    }

    /// x: [N, H, W, Cin] -> y: [N, OH, OW, Cout]
    public func forward(_ x: Tensor, mode: Mode) -> Tensor {
        precondition(x.rank == 4 && x.shape[3] == inChannels,
                     "Conv2d(\(name)): expected [N, H, W, \(inChannels)], got \(x.shape)")
        let g = ConvGeometry(n: x.shape[0], h: x.shape[1], w: x.shape[2], c: inChannels,
                             kh: kernelHeight, kw: kernelWidth, stride: stride, padding: padding)
        precondition(g.outH > 0 && g.outW > 0, "Conv2d(\(name)): input \(x.shape) is smaller than the kernel")
        let timings = self.timings
        let outerKind = timings.enter(.convForward)
        defer { timings.enter(outerKind) }
        input = keptForBackward(x, mode)
        geometry = g
        let y = output.output([g.n, g.outH, g.outW, outChannels], mode: mode)
        let cout = outChannels, patch = g.patch, rowsPerImage = g.outH * g.outW
        let w = weight.value!
        if usesWinograd {
            winograd.forward(x.data, n: g.n, h: g.h, w: g.w, weights: w, outChannels: cout, inChannels: inChannels,
                             bias: bias?.value, into: y.data, budgetBytes: winogradBudgetBytes)
            return y
        }
        if usesDirectConvolution {
            directForward(x, g, into: y)
            return y
        }
        // With a bias, the output starts as the bias and the product adds to it.
        let beta: Float
        if let bias {
            let b = bias.value!, out = y.data
            parallelFor(g.rows, grain: Swift.max(1, 16_384 / cout)) { range in
                for r in range { (out + r * cout).update(from: b, count: cout) }
            }
            beta = 1
        } else {
            beta = 0
        }
        if isPointwise {
            // y[rows, Cout] = x[rows, Cin] · Wᵀ
            gemm(transB: true, m: g.rows, n: cout, k: patch, a: x.data, b: w, beta: beta, c: y.data)
            return y
        }
        // With several threads, up to 2·`chunksPerThread` chunks per thread within the column budget:
        // claimed chunks balance the threads only if each takes several; with one or two each, a
        // thread on a slower core holds the others up. Not with one thread, where the sizes of the
        // products would change for nothing.
        let threads = Threads.available
        let claimable = threads > 1 ? Swift.max(1, g.n / (threads * 2 * Threads.chunksPerThread)) : g.n
        let plan = ChunkPlan(images: g.n, chunk: Swift.min(imagesPerChunk(g), claimable))
        let columns = Scratch.buffers(.columns, floats: plan.chunk * rowsPerImage * patch, parts: plan.parts)
        plan.forEach(claimed: true) { part, images in
            let col = columns[part]
            timings.enter(.columns, part: part)
            im2col(g, x: x.data, col: col, images: images)
            timings.enter(.convForward, part: part)
            gemm(transB: true, m: images.count * rowsPerImage, n: cout, k: patch, a: col, b: w,
                 beta: beta, c: y.data + images.lowerBound * rowsPerImage * cout)
        }
        return y
    }

    /// y: [N, OH, OW, Cout] by `DirectConvolution`, rows of output pixels spread over the threads.
    private func directForward(_ x: Tensor, _ g: ConvGeometry, into y: Tensor) {
        let cout = outChannels, patch = g.patch
        // wt: [kh·kw·Cin, Cout], each tap's output channels contiguous.
        let wt = Scratch.buffers(.transformedWeights, floats: patch * cout, parts: 1)[0]
        let w = weight.value!
        for o in 0..<cout {
            for t in 0..<patch { wt[t * cout + o] = w[o * patch + t] }
        }
        let b = bias.map { UnsafePointer($0.value!) }
        parallelFor(g.n * g.outH, grain: 4) { rows in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: DirectConvolution.scratchFloats(g)) { scratch in
                DirectConvolution.forwardRows(rows, g, x: x.data, weights: wt, bias: b, cout: cout, y: y.data,
                                              scratch: scratch.baseAddress!)
            }
        }
    }

    /// dy: [N, OH, OW, Cout] -> dx: [N, H, W, Cin] (empty when `needsInputGradient` is false)
    public func backward(_ dy: Tensor) -> Tensor { backward(dy, addingTo: nil) }

    /// As `backward`, but adds the input gradient into `dx`, which holds the gradient of the same
    /// input from its other consumer (a downsampling shortcut's, into its block's main path). The
    /// sum then costs no tensor of its own and no pass over it: a 1x1 stride-2 convolution touches
    /// only the quarter of `dx` it read, and a 1x1 stride-1 one adds within its product.
    public func backward(_ dy: Tensor, addingInputGradientTo dx: Tensor) {
        precondition(needsInputGradient, "Conv2d(\(name)): no input gradient to add")
        precondition(dx.shape == input?.shape, "Conv2d(\(name)): dx \(dx.shape) does not match the input")
        _ = backward(dy, addingTo: dx)
    }

    /// The input gradient goes into `target` (added) when given, else into a new tensor.
    private func backward(_ dy: Tensor, addingTo target: Tensor?) -> Tensor {
        guard let x = input, let g = geometry else { preconditionFailure("Conv2d(\(name)): backward before forward") }
        precondition(dy.shape == [g.n, g.outH, g.outW, outChannels],
                     "Conv2d(\(name)): dy \(dy.shape) does not match output [\(g.n), \(g.outH), \(g.outW), \(outChannels)]")
        let timings = self.timings
        let outerKind = timings.enter(.convBackward)
        defer { timings.enter(outerKind) }
        let cout = outChannels, patch = g.patch, rowsPerImage = g.outH * g.outW
        let w = weight.value!, dW = weight.grad!
        if let bias {
            reduction.addColumnSums(of: dy.data, rows: g.rows, channels: cout, into: bias.grad)
        }
        if isPointwise {
            // dW[Cout, Cin] += dyᵀ · x;  dx[rows, Cin] = dy · W
            gemm(transA: true, m: cout, n: patch, k: g.rows, a: dy.data, b: x.data, beta: 1, c: dW)
            guard needsInputGradient else { return empty }
            let dx = target ?? Tensor(pooled: x.shape)
            gemm(m: g.rows, n: patch, k: cout, a: dy.data, b: w, beta: target == nil ? 0 : 1, c: dx.data)
            return dx
        }
        if usesWinograd {
            winograd.weightGradient(x.data, dy.data, n: g.n, h: g.h, w: g.w, into: dW, budgetBytes: winogradBudgetBytes,
                                    outChannels: cout, inChannels: inChannels)
            guard needsInputGradient else { return empty }
            let dx = Tensor(pooled: x.shape)
            winograd.inputGradient(dy.data, n: g.n, h: g.h, w: g.w, weights: w, outChannels: cout,
                                   inChannels: inChannels, into: dx.data, budgetBytes: winogradBudgetBytes)
            guard let target else { return dx }
            axpy(dx.count, 1, dx.data, target.data)
            return target
        }
        let plan = ChunkPlan(images: g.n, chunk: imagesPerChunk(g))
        let columns = Scratch.buffers(.columns, floats: plan.chunk * rowsPerImage * patch, parts: plan.parts)
        // Part 0 adds into dW; every other part into its own zeroed partial, added to dW at the end.
        let partials = Scratch.buffers(.partialGradient, floats: cout * patch, parts: plan.parts)
        for part in 1..<plan.parts { partials[part].initialize(repeating: 0, count: cout * patch) }
        let dx = needsInputGradient ? target ?? Tensor(pooled: x.shape) : empty
        plan.forEach { part, images in
            let rows = images.count * rowsPerImage, col = columns[part]
            let dyChunk = dy.data + images.lowerBound * rowsPerImage * cout
            timings.enter(.columns, part: part)
            im2col(g, x: x.data, col: col, images: images)
            timings.enter(.convBackward, part: part)
            gemm(transA: true, m: cout, n: patch, k: rows, a: dyChunk, b: col, beta: 1,
                 c: part == 0 ? dW : partials[part])
            guard needsInputGradient else { return }
            gemm(m: rows, n: patch, k: cout, a: dyChunk, b: w, c: col)
            timings.enter(.columns, part: part)
            // Chunks hold whole images, so each chunk's col2im writes its images' gradient outright.
            col2im(g, col: col, dx: dx.data, images: images, accumulate: target != nil)
        }
        for part in 1..<plan.parts { axpy(cout * patch, 1, partials[part], dW) }
        return dx
    }
}
