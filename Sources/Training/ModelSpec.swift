import Images
import NN

/// The network a run uses, resolved from the command line and the data, saved in `config.json` and in
/// every checkpoint's metadata so downstream commands rebuild the same network and input pipeline.
public struct ModelSpec: Codable, Equatable, Sendable {
    public var arch: Architecture
    /// Multiplies every stage's width (1 = torchvision's widths).
    public var width: Double
    /// `imagenet` (7x7 stride-2 convolution and max-pool) or `cifar` (3x3 stride-1, no max-pool).
    public var stem: ResNetConfig.Stem
    public var inputChannels: Int
    public var imageSize: Int
    /// Per-channel mean and standard deviation the inputs are normalised with (empty: none).
    public var mean: [Float]
    public var std: [Float]

    public init(arch: Architecture, width: Double, stem: ResNetConfig.Stem, inputChannels: Int, imageSize: Int,
                mean: [Float], std: [Float]) {
        self.arch = arch; self.width = width; self.stem = stem
        self.inputChannels = inputChannels; self.imageSize = imageSize
        self.mean = mean; self.std = std
    }

    /// The input normalisation, as the image pipeline applies it.
    public var normalization: Normalization {
        get { mean.isEmpty ? .none : Normalization(mean: mean, std: std) }
        set {
            mean = newValue == .none ? [] : newValue.mean
            std = newValue == .none ? [] : newValue.std
        }
    }

    /// The ResNet this spec builds.
    public var resNetConfig: ResNetConfig {
        ResNetConfig(depth: arch.resNetDepth, stem: stem, widthMultiplier: width, inputChannels: inputChannels)
    }
}
