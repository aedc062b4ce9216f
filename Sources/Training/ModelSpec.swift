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

    /// Throws unless the network can be built here: a positive finite width, 1 or 3 input channels,
    /// an image of at least 8 px, and one image's inference within this machine's memory. `source`
    /// names where the spec came from (a weights file's metadata, the command line).
    public func checkBuildable(source: String, available: Double? = MemoryEstimate.availableBytes()) throws {
        guard width.isFinite, width > 0, width <= 64 else {
            throw TrainingError.invalidOption("\(source): width \(width) is not a usable width multiplier (0 to 64)")
        }
        guard [1, 3].contains(inputChannels) else {
            throw TrainingError.invalidOption("\(source): \(inputChannels) input channels (1 or 3 are supported)")
        }
        guard imageSize >= 8 else { throw TrainingError.invalidOption("\(source): image size \(imageSize) is below 8 px") }
        try MemoryEstimate.check("\(source): a \(arch.rawValue) of width \(width) at \(imageSize) px", images: 1,
                                 available: available, suggestion: "") { .inference(self, images: $0) }
    }

    /// Throws, saying what would fit, when an inference pass over `images` images at once cannot fit.
    public func checkInference(images: Int, available: Double? = MemoryEstimate.availableBytes()) throws {
        try MemoryEstimate.check("a forward pass of \(images) images at \(imageSize) px", images: images,
                                 available: available, suggestion: "lower --batch-size") { .inference(self, images: $0) }
    }

    /// The ResNet this spec builds.
    public var resNetConfig: ResNetConfig {
        ResNetConfig(depth: arch.resNetDepth, stem: stem, widthMultiplier: width, inputChannels: inputChannels)
    }
}
