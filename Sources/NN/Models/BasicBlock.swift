import Tensors

/// ResNet-18/34's block (expansion 1): 3x3 conv (stride) - BN - ReLU - 3x3 conv - BN, plus shortcut,
/// ReLU. Names as torchvision: `conv1`, `bn1`, `conv2`, `bn2`, `downsample.0`, `downsample.1`.
final class BasicBlock: ResidualBlock {
    static let expansion = 1
    let first, second: ConvBN
    let shortcut: Shortcut

    init(_ store: ParameterStore, prefix: String, inChannels: Int, planes: Int, stride: Int, zeroInitResidual: Bool,
         kernels: KernelPolicy, timings: LayerTimings?) {
        first = ConvBN(store, conv: qualified(prefix, "conv1"), bn: qualified(prefix, "bn1"),
                       inChannels: inChannels, outChannels: planes, kernelSize: 3, stride: stride, relu: true,
                       kernels: kernels, timings: timings)
        second = ConvBN(store, conv: qualified(prefix, "conv2"), bn: qualified(prefix, "bn2"),
                        inChannels: planes, outChannels: planes, kernelSize: 3, relu: false,
                        zeroInitBN: zeroInitResidual, kernels: kernels, timings: timings)
        shortcut = Shortcut(store, prefix: prefix, inChannels: inChannels, outChannels: planes, stride: stride,
                            kernels: kernels, timings: timings)
    }

    var batchNorms: [BatchNorm] { [first.bn, second.bn] + (shortcut.downsample.map { [$0.bn] } ?? []) }
    var workspaceTensors: [Tensor] { first.workspaceTensors + second.workspaceTensors + shortcut.workspaceTensors }

    /// x: [N, H, W, Cin] -> [N, H/stride, W/stride, planes]
    func forward(_ x: Tensor, mode: Mode) -> Tensor {
        shortcut.forward(main: second.deferredForward(first.forward(x, mode: mode), mode: mode), x: x, mode: mode)
    }

    func backward(_ dy: Tensor) -> Tensor {
        let dSum = shortcut.backwardJoin(dy)
        // dSum serves the shortcut too; the second convolution's input gradient serves only the first.
        let dx = first.backward(second.backward(dSum), overwriting: true)
        shortcut.addInputGradient(dSum, into: dx)
        return dx
    }
}
