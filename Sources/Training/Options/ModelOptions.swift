import ArgumentParser

/// The network and its input pipeline, as every command that builds an encoder takes them. Without
/// weights they describe the network (each has a default); with weights that describe their network,
/// `--arch`, `--width` and `--stem` only confirm it, while `--image-size` and `--normalize` replace
/// pretraining's input pipeline (see `ModelRequest`).
public struct ModelOptions: ParsableArguments {
    @Option(help: "resnet18, resnet34 or resnet50 (default resnet18); with --weights, read from the file and only checked.")
    public var arch: Architecture?

    @Option(help: "Width multiplier of every stage (default 1: torchvision's widths); with --weights only checked.")
    public var width: Double?

    @Option(help: "auto (cifar for images of 64 px or less), imagenet or cifar; with --weights only checked.")
    public var stem: StemChoice?

    @Option(help: "Side of the square network input; default: with --weights the size it was trained at (224 for the ImageNet stem and 32 for the CIFAR stem of a file without metadata), otherwise the data's own size up to 64 px, else 224.")
    public var imageSize: Int?

    @Option(help: "Input normalisation: auto (the data's own mean and std), none, imagenet, or MEAN/STD (one value, or one per channel, each side); default: with --weights the one it was trained with (required for a file without metadata), otherwise auto.")
    public var normalize: NormalizationChoice?

    public init() {}

    public func validate() throws {
        if let width, !(width.isFinite && width > 0) { throw ValidationError("--width must be a positive number") }
        if let imageSize, imageSize < 8 { throw ValidationError("--image-size must be at least 8") }
    }

    /// What these options say about the network.
    public var request: ModelRequest {
        ModelRequest(arch: arch, width: width, stem: stem, imageSize: imageSize, normalize: normalize)
    }
}
