import Foundation
import Images

/// What the command line said about the network of a fine-tuning run (nil: nothing), resolved
/// against the weights and the data into a `ModelSpec`.
///
/// Pretraining's input size and normalisation travel in the weights' metadata and are used unless
/// `--image-size` / `--normalize` are given; a mismatch between pretraining and evaluation
/// normalisation then takes a deliberate option, never an omission. The architecture of weights
/// that describe themselves cannot be changed: a differing `--arch`, `--width` or `--stem` is an error.
public struct FineTuneModelRequest: Equatable {
    public var arch: String?
    public var width: Double?
    public var stem: String?
    public var imageSize: Int?
    public var normalize: String?

    public init(arch: String? = nil, width: Double? = nil, stem: String? = nil, imageSize: Int? = nil,
                normalize: String? = nil) {
        self.arch = arch; self.width = width; self.stem = stem; self.imageSize = imageSize; self.normalize = normalize
    }

    /// The network for `weights` (nil: random initialisation) on the training split of `data`,
    /// and a short note of where its settings came from.
    public func resolve(weights: String?, data: String?, format: DatasetFormat,
                        options: DatasetOptions = DatasetOptions()) throws -> (model: ModelSpec, source: String) {
        func dataset(channels: Int?) throws -> ImageDataset {
            var o = options
            o.channels = channels
            o.validation = .none
            return try openDataset(path: data, format: format, split: .train, options: o, skipLog: SkipLog(printLimit: 0))
        }
        guard let weights else {
            return (try commandLineSpec(dataset(channels: options.channels)), "command line (random initialisation)")
        }
        // A spec no file can hold marks "the file said nothing".
        let unknown = ModelSpec(arch: "", width: 0, stem: "", inputChannels: 0, imageSize: 0, mean: [], std: [])
        let encoder = try PretrainedEncoder.open(weights, fallback: unknown)
        guard encoder.spec != unknown else {
            guard arch != nil, normalize != nil else {
                throw TrainingError.invalidOption(
                    "--weights \(weights) does not say which network it holds or how its inputs were normalised; "
                    + "give --arch (and --width, --stem if not the defaults), --normalize and, if needed, --image-size")
            }
            let channels = Self.inputChannels(of: encoder)
            return (try commandLineSpec(dataset(channels: channels ?? options.channels)), "command line (weights without metadata)")
        }
        var spec = encoder.spec
        var overrides: [String] = []
        if let arch, arch != spec.arch { throw mismatch("--arch \(arch)", spec.arch) }
        if let width, width != spec.width { throw mismatch("--width \(width)", "\(spec.width)") }
        if let stem, stem != "auto", stem != spec.stem { throw mismatch("--stem \(stem)", spec.stem) }
        if let imageSize, imageSize != spec.imageSize {
            spec.imageSize = imageSize
            overrides.append("--image-size")
        }
        if let normalize {
            let n = try ModelSpec.normalization(normalize, channels: spec.inputChannels) {
                (try? dataset(channels: spec.inputChannels)).map { DatasetStatistics.meanStd(of: $0) } ?? .none
            }
            if n.mean != spec.mean || n.std != spec.std {
                spec.mean = n.mean
                spec.std = n.std
                overrides.append("--normalize")
            }
        }
        return (spec, overrides.isEmpty ? "weights metadata" : "weights metadata, overridden by " + overrides.joined(separator: ", "))
    }

    private func mismatch(_ given: String, _ saved: String) -> TrainingError {
        TrainingError.invalidOption("\(given) does not match the weights, which hold a \(saved) encoder; leave the option out")
    }

    /// Everything from the options, `auto` resolved on `dataset`.
    private func commandLineSpec(_ dataset: ImageDataset) throws -> ModelSpec {
        let arch = self.arch ?? "resnet18"
        try ModelSpec.checkArchitecture(arch)
        let size: Int
        if let imageSize {
            size = imageSize
        } else {
            let first = try dataset.image(at: 0)
            let side = min(first.width, first.height)
            size = side <= 64 ? side : 224
        }
        let normalization = try ModelSpec.normalization(normalize ?? "auto", channels: dataset.channels) {
            DatasetStatistics.meanStd(of: dataset)
        }
        return ModelSpec(arch: arch, width: width ?? 1, stem: try ModelSpec.resolveStem(stem ?? "auto", imageSize: size),
                         inputChannels: dataset.channels, imageSize: size, mean: normalization.mean, std: normalization.std)
    }

    /// The input channels of a torchvision-named file's first convolution (`[out, in, kh, kw]`),
    /// under any wrapper prefix.
    static func inputChannels(of encoder: PretrainedEncoder) -> Int? {
        for name in encoder.file.names {
            var stripped = name
            while let prefix = StateDict.knownPrefixes.first(where: { stripped.hasPrefix($0) }) {
                stripped.removeFirst(prefix.count)
            }
            if stripped == "conv1.weight", let shape = encoder.file.info(name)?.shape, shape.count == 4,
               [1, 3].contains(shape[1]) {
                return shape[1]
            }
        }
        return nil
    }
}
