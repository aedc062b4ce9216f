import Images

/// The network a run uses, resolved from the command line and the data, saved in `config.json` and in
/// every checkpoint's metadata so downstream commands rebuild the same network and input pipeline.
public struct ModelSpec: Codable, Equatable, Sendable {
    /// `resnet18`, `resnet34` or `resnet50`.
    public var arch: String
    /// Multiplies every stage's width (1 = torchvision's widths).
    public var width: Double
    /// `imagenet` (7x7 stride-2 convolution and max-pool) or `cifar` (3x3 stride-1, no max-pool).
    public var stem: String
    public var inputChannels: Int
    public var imageSize: Int
    /// Per-channel mean and standard deviation the inputs are normalised with (empty: none).
    public var mean: [Float]
    public var std: [Float]

    public init(arch: String, width: Double, stem: String, inputChannels: Int, imageSize: Int,
                mean: [Float], std: [Float]) {
        self.arch = arch; self.width = width; self.stem = stem
        self.inputChannels = inputChannels; self.imageSize = imageSize
        self.mean = mean; self.std = std
    }

    public static let architectures = ["resnet18", "resnet34", "resnet50"]

    /// `auto` picks the CIFAR stem for images of 64 pixels or less, as small images lose too much
    /// to a stride-4 stem.
    public static func resolveStem(_ stem: String, imageSize: Int) throws -> String {
        switch stem {
        case "auto": return imageSize <= 64 ? "cifar" : "imagenet"
        case "cifar", "imagenet": return stem
        default: throw TrainingError.invalidOption("unknown --stem '\(stem)' (expected auto, imagenet or cifar)")
        }
    }

    public static func checkArchitecture(_ arch: String) throws {
        guard architectures.contains(arch) else {
            throw TrainingError.invalidOption(
                "unknown architecture '\(arch)' (expected \(architectures.joined(separator: ", ")))")
        }
    }

    /// The input normalisation, as the image pipeline applies it.
    public var normalization: Normalization {
        mean.isEmpty ? .none : Normalization(mean: mean, std: std)
    }

    /// `auto` (statistics of the data), `none`, `imagenet`, or `MEAN/STD` with one value per channel
    /// (`0.5/0.25`, `0.49,0.48,0.45/0.25,0.24,0.26`).
    public static func normalization(_ name: String, channels: Int, data: () -> Normalization) throws -> Normalization {
        switch name {
        case "auto": return data()
        case "none": return .none
        case "imagenet": return .imageNet
        default:
            let parts = name.split(separator: "/").map { $0.split(separator: ",").compactMap { Float($0) } }
            guard parts.count == 2, parts[0].count == parts[1].count, [1, channels].contains(parts[0].count),
                  parts[1].allSatisfy({ $0 > 0 }) else {
                throw TrainingError.invalidOption(
                    "--normalize takes auto, none, imagenet, or MEAN/STD with 1 or \(channels) values each (e.g. 0.5/0.25)")
            }
            return Normalization(mean: parts[0], std: parts[1])
        }
    }
}
