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

    /// Normalisation by name: `none`, `imagenet`, or `dataset` statistics given as values.
    public static func normalization(_ name: String, channels: Int) throws -> (mean: [Float], std: [Float]) {
        switch name {
        case "none": return ([], [])
        case "imagenet":
            let mean: [Float] = [0.485, 0.456, 0.406], std: [Float] = [0.229, 0.224, 0.225]
            if channels == 3 { return (mean, std) }
            // Grayscale inputs get the luma-weighted ImageNet statistics.
            let m = 0.299 * mean[0] + 0.587 * mean[1] + 0.114 * mean[2]
            let s = 0.299 * std[0] + 0.587 * std[1] + 0.114 * std[2]
            return ([Float](repeating: m, count: channels), [Float](repeating: s, count: channels))
        default:
            // "m1,m2,m3/s1,s2,s3"
            let parts = name.split(separator: "/").map { $0.split(separator: ",").compactMap { Float($0) } }
            guard parts.count == 2, parts[0].count == channels, parts[1].count == channels,
                  parts[1].allSatisfy({ $0 > 0 }) else {
                throw TrainingError.invalidOption(
                    "--normalize takes none, imagenet, or MEAN/STD with \(channels) values each (e.g. 0.5/0.25)")
            }
            return (parts[0], parts[1])
        }
    }
}
