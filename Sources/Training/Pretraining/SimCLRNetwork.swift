import NN
import Tensors

/// The encoder f (a ResNet, torchvision names) and the projection head g (`projection_head.*`) in one
/// parameter store, so one all-reduce carries every gradient.
public final class SimCLRNetwork {
    public let store = ParameterStore()
    public let encoder: ResNet
    public let head: ProjectionHead
    /// Store offset of the head's first parameter (the head follows the encoder in the store).
    private let headOffset: Int

    /// Called during `backward` with offsets from which every gradient is final (see
    /// `ResNet.gradientsReady`): after the head, then after each encoder block and the stem.
    public var gradientsReady: ((Int) -> Void)? {
        didSet { encoder.gradientsReady = gradientsReady }
    }

    public init(model: ModelSpec, projectionHidden: Int, projectionDimension: Int, projectionLayers: Int,
                projectionBatchNorm: Bool, kernels: KernelPolicy, timings: LayerTimings? = nil, seed: UInt64) {
        encoder = ResNet(model.resNetConfig, store: store, kernels: kernels, timings: timings)
        encoder.needsInputGradient = false
        headOffset = store.count
        head = ProjectionHead(store, prefix: SimCLRNetwork.headPrefix, inputDimension: encoder.featureDimension,
                              hiddenDimension: projectionHidden, outputDimension: projectionDimension,
                              layers: projectionLayers, batchNorm: projectionBatchNorm, timings: timings)
        store.finalize(seed: seed)
    }

    public static let headPrefix = "projection_head"

    public var batchNorms: [BatchNorm] { encoder.batchNorms + head.batchNorms }

    /// x: [V, H, W, C] views -> z: [V, D] projections.
    public func forward(_ x: Tensor, mode: Mode) -> Tensor {
        head.forward(encoder.forward(x, mode: mode), mode: mode)
    }

    /// dz: [V, D]; adds into every parameter gradient.
    public func backward(_ dz: Tensor) {
        let dFeatures = head.backward(dz)
        gradientsReady?(headOffset)
        _ = encoder.backward(dFeatures)
    }

    /// Whether a tensor name belongs to the encoder (what `encoder.safetensors` holds).
    public static func isEncoderTensor(_ name: String) -> Bool {
        !name.hasPrefix(headPrefix + ".")
    }
}

