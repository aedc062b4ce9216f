import Tensors

/// A torchvision ResNet without its classifier: images `[N, H, W, C]` to pooled features `[N, F]`.
///
/// Built from a `ResNetConfig`: stem (`conv1`, `bn1`, ReLU, and for the ImageNet stem a 3x3/2 max
/// pool), four stages `layer1`...`layer4` of blocks (the first block of stages 2-4 has stride 2),
/// global average pooling. Parameter and buffer names are torchvision's, after an optional prefix.
public final class ResNet: Layer, WorkspaceOwner {
    public let config: ResNetConfig
    /// F, the length of the pooled feature vector.
    public let featureDimension: Int
    /// Every BatchNorm layer, in registration order (for reducers and mode checks).
    public let batchNorms: [BatchNorm]

    private let stem: ConvBN
    private let pool: MaxPool2d?
    private let blocks: [any ResidualBlock]
    private let average: GlobalAveragePool
    /// Store offsets of the first parameter of the stem and of each block.
    private let stemOffset: Int
    private let blockOffsets: [Int]

    /// Called by `backward` after each block and after the stem, with the store offset of its first
    /// parameter: from there to the end of the store, every gradient is final for this pass (given
    /// that whatever was registered after the encoder was differentiated before it). An overlapped
    /// all-reduce starts on them while the rest of the pass runs.
    public var gradientsReady: ((Int) -> Void)?

    /// Registers all parameters and buffers in `store` (which the caller finalises). Every
    /// convolution takes the paths `kernels` allows; with `timings`, every layer records its time there.
    public init(_ config: ResNetConfig, store: ParameterStore, prefix: String = "", kernels: KernelPolicy,
                timings: LayerTimings? = nil) {
        precondition(config.inputChannels > 0 && config.widthMultiplier > 0,
                     "ResNet: bad config \(config)")
        self.config = config
        let imagenet = config.stem == .imagenet
        stemOffset = store.count
        stem = ConvBN(store, conv: qualified(prefix, "conv1"), bn: qualified(prefix, "bn1"),
                      inChannels: config.inputChannels, outChannels: config.stemWidth,
                      kernelSize: imagenet ? 7 : 3, stride: imagenet ? 2 : 1, relu: true,
                      kernels: kernels, timings: timings)
        pool = imagenet ? MaxPool2d(kernelSize: 3, stride: 2, padding: 1, timings: timings) : nil
        average = GlobalAveragePool(timings: timings)
        var blocks: [any ResidualBlock] = []
        var blockOffsets: [Int] = []
        var channels = config.stemWidth
        for (stage, (planes, count)) in zip(config.stageWidths, config.depth.blockCounts).enumerated() {
            for index in 0..<count {
                let prefix = qualified(prefix, "layer\(stage + 1).\(index)")
                let stride = stage > 0 && index == 0 ? 2 : 1
                blockOffsets.append(store.count)
                if config.depth.usesBottleneck {
                    blocks.append(Bottleneck(store, prefix: prefix, inChannels: channels, planes: planes,
                                             stride: stride, zeroInitResidual: config.zeroInitResidual,
                                             kernels: kernels, timings: timings))
                } else {
                    blocks.append(BasicBlock(store, prefix: prefix, inChannels: channels, planes: planes,
                                             stride: stride, zeroInitResidual: config.zeroInitResidual,
                                             kernels: kernels, timings: timings))
                }
                channels = planes * config.depth.expansion
            }
        }
        self.blocks = blocks
        self.blockOffsets = blockOffsets
        featureDimension = channels
        batchNorms = [stem.bn] + blocks.flatMap(\.batchNorms)
    }

    /// Whether backward computes the gradient of the input images (on by default; the trainer
    /// turns it off to save the first convolution's input-gradient pass).
    public var needsInputGradient: Bool {
        get { stem.conv.needsInputGradient }
        set { stem.conv.needsInputGradient = newValue }
    }

    var workspaceTensors: [Tensor] {
        stem.workspaceTensors + (pool?.workspaceTensors ?? []) + blocks.flatMap(\.workspaceTensors)
            + average.workspaceTensors
    }

    /// Bytes held by all activation and gradient workspaces (they stop growing after the first step).
    public var workspaceBytes: Int { heldBytes }

    /// x: [N, H, W, inputChannels] -> features: [N, F]
    public func forward(_ x: Tensor, mode: Mode) -> Tensor {
        precondition(x.rank == 4 && x.shape[3] == config.inputChannels,
                     "ResNet: expected [N, H, W, \(config.inputChannels)], got \(x.shape)")
        var h = stem.forward(x, mode: mode)
        if let pool { h = pool.forward(h, mode: mode) }
        for block in blocks { h = block.forward(h, mode: mode) }
        return average.forward(h, mode: mode)
    }

    /// dFeatures: [N, F] -> dx: [N, H, W, inputChannels] (empty when `needsInputGradient` is false)
    public func backward(_ dFeatures: Tensor) -> Tensor {
        var d = average.backward(dFeatures)
        for (block, offset) in zip(blocks, blockOffsets).reversed() {
            d = block.backward(d)
            gradientsReady?(offset)
        }
        if let pool { d = pool.backward(d) }
        d = stem.backward(d, overwriting: true)
        gradientsReady?(stemOffset)
        return d
    }
}
