import Tensors

/// ResNet-50's block (expansion 4), torchvision v1.5: 1x1 conv - BN - ReLU - 3x3 conv (stride) - BN -
/// ReLU - 1x1 conv to 4·planes - BN, plus shortcut, ReLU. Names `conv1`...`bn3`, `downsample.0/1`.
final class Bottleneck: ResidualBlock {
    static let expansion = 4
    let reduce, spatial, expand: ConvBN
    let shortcut: Shortcut

    init(_ store: ParameterStore, prefix: String, inChannels: Int, planes: Int, stride: Int, zeroInitResidual: Bool,
         kernels: KernelPolicy, timings: LayerTimings?) {
        let out = planes * Self.expansion
        reduce = ConvBN(store, conv: qualified(prefix, "conv1"), bn: qualified(prefix, "bn1"),
                        inChannels: inChannels, outChannels: planes, kernelSize: 1, relu: true,
                        kernels: kernels, timings: timings)
        spatial = ConvBN(store, conv: qualified(prefix, "conv2"), bn: qualified(prefix, "bn2"),
                         inChannels: planes, outChannels: planes, kernelSize: 3, stride: stride, relu: true,
                         kernels: kernels, timings: timings)
        expand = ConvBN(store, conv: qualified(prefix, "conv3"), bn: qualified(prefix, "bn3"),
                        inChannels: planes, outChannels: out, kernelSize: 1, relu: false,
                        zeroInitBN: zeroInitResidual, kernels: kernels, timings: timings)
        shortcut = Shortcut(store, prefix: prefix, inChannels: inChannels, outChannels: out, stride: stride,
                            kernels: kernels, timings: timings)
    }

    var batchNorms: [BatchNorm] {
        [reduce.bn, spatial.bn, expand.bn] + (shortcut.downsample.map { [$0.bn] } ?? [])
    }
    var workspaceTensors: [Tensor] {
        reduce.workspaceTensors + spatial.workspaceTensors + expand.workspaceTensors + shortcut.workspaceTensors
    }

    /// x: [N, H, W, Cin] -> [N, H/stride, W/stride, 4·planes]
    func forward(_ x: Tensor, mode: Mode) -> Tensor {
        let main = expand.deferredForward(spatial.forward(reduce.forward(x, mode: mode), mode: mode), mode: mode)
        return shortcut.forward(main: main, x: x, mode: mode)
    }

    func backward(_ dy: Tensor) -> Tensor {
        let dSum = shortcut.backwardJoin(dy)
        // dSum serves the shortcut too; each convolution's input gradient serves only the next piece.
        let dx = reduce.backward(spatial.backward(expand.backward(dSum), overwriting: true), overwriting: true)
        shortcut.addInputGradient(dSum, into: dx)
        return dx
    }
}
