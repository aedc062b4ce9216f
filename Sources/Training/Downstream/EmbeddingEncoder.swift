import Formats
import Foundation
import Images
import NN
import Tensors

/// A frozen encoder ready to turn images into embeddings (what `simclr knn` and `simclr embed` run):
/// the weights file opened, its network and input pipeline resolved, the encoder built and loaded,
/// and the lines a user should read about what happened to the file's names.
///
/// The network comes from the file's `simclr.model` metadata when this tool (or
/// `scripts/convert_torch_checkpoint.py`) wrote it. A torchvision-named file from elsewhere has
/// none: its architecture, width, stem and input channels are then read from the tensors' names
/// and shapes, and its input pipeline must be given (`normalize`; `imageSize` defaults to 224 for
/// the ImageNet stem and 32 for the CIFAR stem).
///
/// ```swift
/// let encoder = try EmbeddingEncoder(weights: "runs/a/encoder.safetensors", overrides: .init())
/// for line in encoder.messages { print(line) }
/// let (features, labels) = try encoder.features(of: dataset)   // [N, F], [N]
/// ```
public final class EmbeddingEncoder {
    /// What the command line says about the network. For a file with metadata, `arch`, `width`
    /// and `stem` may only confirm it, and `imageSize` and `normalize` replace its values (with a
    /// message); for a file without, they fill in what the tensors cannot tell.
    public struct Overrides: Equatable, Sendable {
        public var arch: String?
        public var width: Double?
        public var stem: String?
        public var imageSize: Int?
        /// `none`, `imagenet` or `MEAN/STD` (see `ModelSpec.normalization`); `auto` is refused, as
        /// a pretrained encoder expects the statistics it was trained with, not the new data's.
        public var normalize: String?

        public init(arch: String? = nil, width: Double? = nil, stem: String? = nil, imageSize: Int? = nil,
                    normalize: String? = nil) {
            self.arch = arch; self.width = width; self.stem = stem
            self.imageSize = imageSize; self.normalize = normalize
        }
    }

    /// The network and input pipeline in use.
    public let spec: ModelSpec
    public let encoder: ResNet
    public let store: ParameterStore
    /// Where the weights came from.
    public let path: String
    /// Lines for the user: where the spec came from, prefixes stripped, tensors left unused.
    public let messages: [String]

    /// Opens `path` and builds the encoder. Throws a `TrainingError` (one line) for a missing or
    /// unreadable file, an option that contradicts the file, a file that does not say enough, or
    /// weights that do not fit the network (naming the tensors).
    public init(weights path: String, overrides: Overrides, seed: UInt64 = 0) throws {
        if let normalize = overrides.normalize, normalize == "auto" {
            throw TrainingError.invalidOption(
                "--normalize auto is not available here: a pretrained encoder needs the normalisation it was trained with (none, imagenet or MEAN/STD)")
        }
        // A fallback no file can hold tells whether the spec came from the file's metadata.
        let unknown = ModelSpec(arch: "", width: 1, stem: "", inputChannels: 0, imageSize: 0, mean: [], std: [])
        var pretrained = try PretrainedEncoder.open(path, fallback: unknown)
        var messages: [String] = []
        if pretrained.spec != unknown {
            pretrained.spec = try Self.applying(overrides, to: pretrained.spec, path: path, messages: &messages)
        } else if pretrained.file.metadata["simclr.model"] != nil || pretrained.file.metadata["simclr.config"] != nil {
            throw TrainingError.invalidOption("\(path): its simclr.model metadata cannot be read as a model description")
        } else {
            pretrained.spec = try Self.foreignSpec(pretrained.file, overrides: overrides, path: path, messages: &messages)
        }
        let store = ParameterStore()
        let encoder = try pretrained.build(into: store, seed: seed)
        for prefix in pretrained.report.strippedPrefixes {
            messages.append("\(path): removed the prefix '\(prefix)' from tensor names")
        }
        if !pretrained.report.unused.isEmpty {
            messages.append("\(path): ignored \(pretrained.report.unused.count) tensor(s) the encoder does not use: "
                            + StateDict.summarize(pretrained.report.unused))
        }
        self.spec = pretrained.spec
        self.encoder = encoder
        self.store = store
        self.path = path
        self.messages = messages
    }

    /// The evaluation view of the spec: resize and centre crop to `imageSize`, then normalise.
    public var transform: EvaluationTransform {
        EvaluationTransform(size: spec.imageSize, normalization: spec.normalization)
    }

    /// Dataset options that give images with the encoder's input channels (gray data for an RGB
    /// encoder is converted, and the other way round).
    public var datasetOptions: DatasetOptions { DatasetOptions(channels: spec.inputChannels) }

    /// Pooled features `[N, F]` of every image of `dataset` in its order, in evaluation mode, and
    /// the labels (-1 where unlabelled).
    public func features(of dataset: ImageDataset, batchSize: Int = 64, workers: Int = 1) throws -> (features: Tensor, labels: [Int]) {
        try FeatureExtractor.features(of: dataset, encoder: encoder, transform: transform, batchSize: batchSize,
                                      workers: workers)
    }

    /// A one-line description of the network, for logs.
    public var summary: String {
        let normalization = spec.mean.isEmpty ? "no normalisation"
            : "normalised with mean \(spec.mean) std \(spec.std)"
        return "\(spec.arch) (width \(spec.width), \(spec.stem) stem, \(spec.inputChannels) channel(s)), "
            + "\(spec.imageSize)x\(spec.imageSize) inputs, \(normalization)"
    }

    /// The spec of a file with metadata after the command-line options.
    static func applying(_ overrides: Overrides, to saved: ModelSpec, path: String,
                         messages: inout [String]) throws -> ModelSpec {
        var spec = saved
        if let arch = overrides.arch, arch != saved.arch {
            throw TrainingError.invalidOption("--arch \(arch) contradicts \(path), which holds a \(saved.arch); leave --arch out")
        }
        if let width = overrides.width, width != saved.width {
            throw TrainingError.invalidOption("--width \(width) contradicts \(path), which holds width \(saved.width); leave --width out")
        }
        if let stem = overrides.stem, stem != "auto", stem != saved.stem {
            throw TrainingError.invalidOption("--stem \(stem) contradicts \(path), which has the \(saved.stem) stem; leave --stem out")
        }
        if let size = overrides.imageSize, size != saved.imageSize {
            messages.append("using --image-size \(size) instead of the \(saved.imageSize) the encoder was trained at")
            spec.imageSize = size
        }
        if let name = overrides.normalize {
            let normalization = try ModelSpec.normalization(name, channels: saved.inputChannels) { .none }
            let chosen = normalization == .none ? ([], []) : (normalization.mean, normalization.std)
            if chosen.0 != saved.mean || chosen.1 != saved.std {
                messages.append("using --normalize \(name) instead of the encoder's own normalisation "
                                + (saved.mean.isEmpty ? "(none)" : "(mean \(saved.mean) std \(saved.std))"))
                spec.mean = chosen.0
                spec.std = chosen.1
            }
        }
        return spec
    }

    /// The spec of a torchvision-named file without metadata: the network read from its tensors,
    /// the input pipeline from the options.
    static func foreignSpec(_ file: SafeTensors, overrides: Overrides, path: String,
                            messages: inout [String]) throws -> ModelSpec {
        let found = try ResNetShape(names: file.names, info: { file.info($0)?.shape }, path: path)
        if let arch = overrides.arch, arch != found.arch {
            throw TrainingError.invalidOption("--arch \(arch) contradicts \(path), whose tensors are those of a \(found.arch)")
        }
        if let width = overrides.width, width != found.width {
            throw TrainingError.invalidOption("--width \(width) contradicts \(path), whose tensors have width \(found.width)")
        }
        if let stem = overrides.stem, stem != "auto", stem != found.stem {
            throw TrainingError.invalidOption("--stem \(stem) contradicts \(path), whose first convolution is the \(found.stem) stem's")
        }
        guard let name = overrides.normalize else {
            throw TrainingError.invalidOption(
                "\(path) does not record the input normalisation its encoder was trained with; give --normalize "
                + "(imagenet for torchvision's and most PyTorch models, none for SimCLR's TensorFlow checkpoints "
                + "converted to PyTorch, or MEAN/STD)")
        }
        let normalization = try ModelSpec.normalization(name, channels: found.inputChannels) { .none }
        let size = overrides.imageSize ?? (found.stem == "cifar" ? 32 : 224)
        messages.append("\(path) has no simclr.model metadata: a \(found.arch) (width \(found.width), \(found.stem) stem, "
                        + "\(found.inputChannels) channel(s)) read from its tensors; inputs \(size)x\(size)"
                        + (overrides.imageSize == nil ? " (give --image-size to change)" : "")
                        + ", --normalize \(name)")
        return ModelSpec(arch: found.arch, width: found.width, stem: found.stem, inputChannels: found.inputChannels,
                         imageSize: size, mean: normalization == .none ? [] : normalization.mean,
                         std: normalization == .none ? [] : normalization.std)
    }

    /// The ResNet a set of torchvision names describes: `conv1.weight` `[C0, Cin, k, k]` gives the
    /// input channels, the stem (k = 7: ImageNet's, k = 3: CIFAR's) and the width (C0 / 64);
    /// `layer1.0.conv3` means bottlenecks (ResNet-50); otherwise the blocks of `layer3` tell
    /// ResNet-18 (2) from ResNet-34 (6). Wrapper prefixes are skipped as `StateDict.load` does.
    struct ResNetShape: Equatable {
        var arch: String
        var width: Double
        var stem: String
        var inputChannels: Int

        init(names: [String], info: (String) -> [Int]?, path: String) throws {
            var stripped: [String: String] = [:]   // torchvision name -> file name
            for name in names {
                var short = name
                while let prefix = StateDict.knownPrefixes.first(where: { short.hasPrefix($0) }) {
                    short.removeFirst(prefix.count)
                }
                stripped[short] = name
            }
            guard let conv1 = stripped["conv1.weight"], let shape = info(conv1), shape.count == 4 else {
                throw TrainingError.invalidOption(
                    "\(path) holds no ResNet under torchvision's names: no conv1.weight among its \(names.count) tensors "
                    + "(\(StateDict.summarize(names))); convert it with scripts/convert_torch_checkpoint.py")
            }
            switch shape[2] {
            case 7: stem = "imagenet"
            case 3: stem = "cifar"
            default:
                throw TrainingError.invalidOption("\(path): conv1.weight has a \(shape[2])x\(shape[3]) kernel; expected 7x7 (ImageNet stem) or 3x3 (CIFAR stem)")
            }
            inputChannels = shape[1]
            width = Double(shape[0]) / 64
            let blocks = Set(stripped.keys.compactMap { name -> Int? in
                guard name.hasPrefix("layer3.") else { return nil }
                return Int(name.dropFirst("layer3.".count).prefix { $0 != "." })
            }).count
            if stripped["layer1.0.conv3.weight"] != nil {
                arch = "resnet50"
            } else if blocks == 2 {
                arch = "resnet18"
            } else if blocks == 6 {
                arch = "resnet34"
            } else {
                throw TrainingError.invalidOption(
                    "\(path) is not a ResNet-18, -34 or -50 (basic blocks with \(blocks) block(s) in layer3)")
            }
        }
    }
}
