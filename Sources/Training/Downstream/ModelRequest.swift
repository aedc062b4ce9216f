import Formats
import Foundation
import Images
import NN

/// What the command line says about a network (nil: nothing), resolved into a `ModelSpec` by the
/// one rule every command that builds an encoder follows (`pretrain`, `finetune`, `knn`, `embed`):
///
/// - Weights whose `simclr.model` metadata describes their network (written by this tool or by
///   `scripts/convert_torch_checkpoint.py`): `arch`, `width` and `stem` may only confirm it;
///   `imageSize` and `normalize` replace pretraining's input pipeline, with a message, so that a
///   mismatch between pretraining and evaluation normalisation takes a deliberate option, never an
///   omission.
/// - A torchvision-named file without metadata: its architecture, width, stem and input channels
///   are read from its tensors' names and shapes (the options again only confirm them); its input
///   pipeline must be given (`normalize`; `imageSize` defaults to 224 for the ImageNet stem and 32
///   for the CIFAR stem).
/// - No weights (random initialisation, pretraining): everything from the command line, `auto`
///   resolved on the data.
///
/// `normalize auto` (the data's own statistics) is each command's choice: right for random
/// initialisation and for fine-tuning, which pass `dataStatistics`; refused for a frozen encoder,
/// which expects the statistics it was trained with.
public struct ModelRequest: Equatable, Sendable {
    public var arch: Architecture?
    public var width: Double?
    public var stem: StemChoice?
    public var imageSize: Int?
    public var normalize: NormalizationChoice?

    public init(arch: Architecture? = nil, width: Double? = nil, stem: StemChoice? = nil, imageSize: Int? = nil,
                normalize: NormalizationChoice? = nil) {
        self.arch = arch; self.width = width; self.stem = stem
        self.imageSize = imageSize; self.normalize = normalize
    }

    /// A weights file and the network resolved for it.
    public struct Resolved {
        /// The opened file; its `spec` is the network to build.
        public var weights: PretrainedEncoder
        /// Where the spec's settings came from, for the record ("weights metadata", "weights
        /// metadata, overridden by --image-size").
        public var source: String
        /// Lines for the user: options that replaced the file's values, what was read from its tensors.
        public var messages: [String]

        public var spec: ModelSpec { weights.spec }
    }

    /// Opens `path` and resolves its network. `dataStatistics(channels)` is what `normalize auto`
    /// stands for; nil refuses `auto`. Throws a `TrainingError` (one line) for a missing or
    /// unreadable file, an option that contradicts the file, or a file that does not say enough.
    public func resolve(weights path: String,
                        dataStatistics: ((_ channels: Int) throws -> Normalization)?) throws -> Resolved {
        if normalize == .auto, dataStatistics == nil {
            throw TrainingError.invalidOption(
                "--normalize auto is not available here: a pretrained encoder needs the normalisation it was trained with (none, imagenet or MEAN/STD)")
        }
        let (file, saved) = try PretrainedEncoder.read(path)
        var messages: [String] = []
        let source: String
        var spec: ModelSpec
        if let saved {
            spec = saved
            try confirm(arch: saved.arch, width: saved.width, stem: saved.stem, of: "\(path), which holds")
            var overridden: [String] = []
            if let imageSize, imageSize != saved.imageSize {
                messages.append("using --image-size \(imageSize) instead of the \(saved.imageSize) the encoder was trained at")
                spec.imageSize = imageSize
                overridden.append("--image-size")
            }
            if let normalize {
                let chosen = try Self.normalization(normalize, channels: saved.inputChannels, dataStatistics)
                if chosen != saved.normalization {
                    messages.append("using --normalize \(normalize) instead of the encoder's own normalisation "
                                    + (saved.mean.isEmpty ? "(none)" : "(mean \(saved.mean) std \(saved.std))"))
                    spec.normalization = chosen
                    overridden.append("--normalize")
                }
            }
            source = overridden.isEmpty ? "weights metadata"
                : "weights metadata, overridden by " + overridden.joined(separator: ", ")
        } else {
            let found = try ResNetShape(names: file.names, info: { file.info($0)?.shape }, path: path)
            try confirm(arch: found.arch, width: found.width, stem: found.stem, of: "\(path), whose tensors are those of")
            guard let normalize else {
                throw TrainingError.invalidOption(
                    "\(path) does not record the input normalisation its encoder was trained with; give --normalize "
                    + "(imagenet for torchvision's and most PyTorch models, none for SimCLR's TensorFlow checkpoints "
                    + "converted to PyTorch, or MEAN/STD)")
            }
            let chosen = try Self.normalization(normalize, channels: found.inputChannels, dataStatistics)
            let size = imageSize ?? (found.stem == ResNetConfig.Stem.cifar ? 32 : 224)
            messages.append("\(path) has no simclr.model metadata: a \(found.arch) (width \(found.width), \(found.stem) stem, "
                            + "\(found.inputChannels) channel(s)) read from its tensors; inputs \(size)x\(size)"
                            + (imageSize == nil ? " (give --image-size to change)" : "")
                            + ", --normalize \(normalize)")
            spec = ModelSpec(arch: found.arch, width: found.width, stem: found.stem,
                             inputChannels: found.inputChannels, imageSize: size, mean: [], std: [])
            spec.normalization = chosen
            source = "the weights' tensors (no metadata) and --normalize\(imageSize == nil ? "" : ", --image-size")"
        }
        let weights = PretrainedEncoder(spec: spec, file: file, report: StateDict.LoadReport(), savedSpec: saved)
        return Resolved(weights: weights, source: source, messages: messages)
    }

    /// The network from the command line alone, every `auto` resolved on `dataset` (random
    /// initialisation, pretraining): resnet18 of width 1 unless told; the data's own size up to
    /// 64 px, else 224; the data's statistics. `dataset` may be opened without validating its files.
    public func resolve(for dataset: ImageDataset) throws -> ModelSpec {
        let size = try imageSize ?? Self.nativeSize(of: dataset)
        let normalization = try (normalize ?? .auto).resolve(channels: dataset.channels) {
            DatasetStatistics.meanStd(of: dataset)
        }
        return ModelSpec(arch: arch ?? .resnet18, width: width ?? 1, stem: (stem ?? .auto).resolve(imageSize: size),
                         inputChannels: dataset.channels, imageSize: size, mean: normalization.mean, std: normalization.std)
    }

    /// The data's own side up to 64 px, else 224, from the first image that reads (the dataset may
    /// have been opened without validating its files).
    private static func nativeSize(of dataset: ImageDataset) throws -> Int {
        var firstError: Error?
        for i in 0..<min(dataset.count, 16) {
            do {
                let image = try dataset.image(at: i)
                let side = min(image.width, image.height)
                return side <= 64 ? side : 224
            } catch {
                firstError = firstError ?? error
            }
        }
        throw firstError ?? TrainingError.invalidOption("the dataset has no images")
    }

    /// The network of a fine-tuning run: `weights` (nil: random initialisation) resolved with
    /// `auto` meaning the statistics of the training split of `data`. The data is opened without
    /// validating every file's header (the run does that), and only when needed.
    public func resolve(weights: String?, data: String?, format: DatasetFormat,
                        options: DatasetOptions = DatasetOptions()) throws -> (model: ModelSpec, source: String, messages: [String]) {
        func dataset(channels: Int?) throws -> ImageDataset {
            var o = options
            o.channels = channels
            o.validation = .none
            return try openDataset(path: data, format: format, split: .train, options: o, skipLog: SkipLog(printLimit: 0))
        }
        guard let weights else {
            return (try resolve(for: dataset(channels: options.channels)), "command line (random initialisation)", [])
        }
        let resolved = try resolve(weights: weights, dataStatistics: {
            DatasetStatistics.meanStd(of: try dataset(channels: $0))
        })
        return (resolved.spec, resolved.source, resolved.messages)
    }

    /// Throws unless the options that can only confirm a network (`arch`, `width`, `stem`) agree
    /// with the one found; `holder` names where it was found ("x.safetensors, which holds").
    private func confirm(arch found: Architecture, width foundWidth: Double, stem foundStem: ResNetConfig.Stem,
                         of holder: String) throws {
        func contradiction(_ flag: String, _ value: String, _ what: String) -> TrainingError {
            TrainingError.invalidOption(
                "\(flag) \(value) contradicts \(holder) \(what): it does not match the weights, so leave \(flag) out")
        }
        if let arch, arch != found { throw contradiction("--arch", arch.rawValue, "a \(found.rawValue)") }
        if let width, width != foundWidth { throw contradiction("--width", "\(width)", "a network of width \(foundWidth)") }
        if let stem, stem != .auto, stem.rawValue != foundStem.rawValue {
            throw contradiction("--stem", stem.rawValue, "a network with the \(foundStem.rawValue) stem")
        }
    }

    /// `choice` for images of `channels` channels, `auto` computed only when asked for (it reads the data).
    private static func normalization(_ choice: NormalizationChoice, channels: Int,
                                      _ dataStatistics: ((Int) throws -> Normalization)?) throws -> Normalization {
        try choice.resolve(channels: channels) {
            guard let dataStatistics else { return .none }
            return try dataStatistics(channels)
        }
    }

    /// The ResNet a set of torchvision names describes: `conv1.weight` `[C0, Cin, k, k]` gives the
    /// input channels, the stem (k = 7: ImageNet's, k = 3: CIFAR's) and the width (C0 / 64);
    /// `layer1.0.conv3` means bottlenecks (ResNet-50); otherwise the blocks of `layer3` tell
    /// ResNet-18 (2) from ResNet-34 (6). Wrapper prefixes are skipped as `StateDict.load` does.
    struct ResNetShape: Equatable {
        var arch: Architecture
        var width: Double
        var stem: ResNetConfig.Stem
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
            case 7: stem = .imagenet
            case 3: stem = .cifar
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
                arch = .resnet50
            } else if blocks == 2 {
                arch = .resnet18
            } else if blocks == 6 {
                arch = .resnet34
            } else {
                throw TrainingError.invalidOption(
                    "\(path) is not a ResNet-18, -34 or -50 (basic blocks with \(blocks) block(s) in layer3)")
            }
        }
    }
}
