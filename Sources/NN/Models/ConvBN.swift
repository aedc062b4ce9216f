import Tensors

/// A convolution followed by BatchNorm (with an optional fused ReLU): the piece ResNet is built from.
/// The two take their own torchvision names (`conv1`/`bn1`, `downsample.0`/`downsample.1`), the
/// network's kernel policy and its timings.
final class ConvBN: WorkspaceOwner {
    let conv: Conv2d
    let bn: BatchNorm

    init(_ store: ParameterStore, conv convName: String, bn bnName: String, inChannels: Int, outChannels: Int,
         kernelSize: Int, stride: Int = 1, relu: Bool, zeroInitBN: Bool = false, kernels: KernelPolicy,
         timings: LayerTimings?) {
        conv = Conv2d(store, name: convName, inChannels: inChannels, outChannels: outChannels,
                      kernelSize: kernelSize, stride: stride, padding: kernelSize / 2, kernels: kernels, timings: timings)
        bn = BatchNorm(store, name: bnName, channels: outChannels, fusedReLU: relu, zeroWeight: zeroInitBN,
                       timings: timings)
    }

    var workspaceTensors: [Tensor] { conv.workspaceTensors + bn.workspaceTensors }

    /// x: [N, H, W, Cin] -> [N, OH, OW, Cout]
    func forward(_ x: Tensor, mode: Mode) -> Tensor { bn.forward(conv.forward(x, mode: mode), mode: mode) }

    /// The convolution, and the map that normalises its output for a consumer that applies it as
    /// it reads (`BatchNorm.deferredForward`); `backward` as usual.
    func deferredForward(_ x: Tensor, mode: Mode) -> BatchNorm.Normalization {
        bn.deferredForward(conv.forward(x, mode: mode), mode: mode)
    }

    /// dy -> dx; with `overwriting`, BatchNorm's gradient replaces dy (for a caller done with it).
    func backward(_ dy: Tensor, overwriting: Bool = false) -> Tensor {
        conv.backward(bn.backward(dy, overwriting: overwriting))
    }

    /// As `backward`, adding dx into `inputGradient` (`Conv2d.backward(_:addingInputGradientTo:)`).
    func backward(_ dy: Tensor, overwriting: Bool = false, addingInputGradientTo inputGradient: Tensor) {
        conv.backward(bn.backward(dy, overwriting: overwriting), addingInputGradientTo: inputGradient)
    }
}
