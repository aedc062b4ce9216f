import Tensors

/// The part both block kinds share: the shortcut and the join.
final class Shortcut: WorkspaceOwner {
    let downsample: ConvBN?
    let join: ResidualReLU
    /// Charged with the identity shortcut's gradient, as the join's work.
    private let timings: LayerTimings?

    /// Registers `prefix.downsample.0` / `.1` when the block changes the shape (stride or channels).
    init(_ store: ParameterStore, prefix: String, inChannels: Int, outChannels: Int, stride: Int,
         kernels: KernelPolicy, timings: LayerTimings?) {
        downsample = stride != 1 || inChannels != outChannels
            ? ConvBN(store, conv: qualified(prefix, "downsample.0"), bn: qualified(prefix, "downsample.1"),
                     inChannels: inChannels, outChannels: outChannels, kernelSize: 1, stride: stride, relu: false,
                     kernels: kernels, timings: timings)
            : nil
        join = ResidualReLU(timings: timings)
        self.timings = timings
    }

    var workspaceTensors: [Tensor] { (downsample?.workspaceTensors ?? []) + join.workspaceTensors }

    /// main: the main path's last normalisation, x: the block's input -> max(0, main + shortcut(x))
    func forward(main: BatchNorm.Normalization, x: Tensor, mode: Mode) -> Tensor {
        if let downsample { return join.forward(main, downsample.deferredForward(x, mode: mode), mode: mode) }
        return join.forward(main, identity: x, mode: mode)
    }

    /// The gradient entering the main path (from dy of the block's output), written over dy.
    func backwardJoin(_ dy: Tensor) -> Tensor { join.backward(dy, overwriting: true) }

    /// Adds the shortcut's input gradient (for `dSum`, the join's gradient) into `dx`, the main
    /// path's input gradient, which the block owns through its first convolution. The last use of
    /// `dSum`: the downsampling BatchNorm overwrites it.
    func addInputGradient(_ dSum: Tensor, into dx: Tensor) {
        if let downsample {
            downsample.backward(dSum, overwriting: true, addingInputGradientTo: dx)
            return
        }
        precondition(dSum.shape == dx.shape, "ResidualBlock: shortcut gradient \(dSum.shape) vs \(dx.shape)")
        let outerKind = timings.enter(.activation)
        defer { timings.enter(outerKind) }
        axpy(dx.count, 1, dSum.data, dx.data)
    }
}
