import Distributed
import Formats
import Foundation
import Images
import NN
import Tensors

/// A frozen encoder ready to turn images into embeddings (what `simclr knn` and `simclr embed` run):
/// the weights file opened, its network and input pipeline resolved, the encoder built and loaded,
/// and the lines a user should read about what happened to the file's names.
///
/// The network is resolved by `ModelRequest`'s rule (the file's metadata, or its tensors and
/// `--normalize` for a torchvision-named file from elsewhere), with `normalize auto` refused.
///
/// ```swift
/// let encoder = try EmbeddingEncoder(weights: "runs/a/encoder.safetensors", request: ModelRequest())
/// for line in encoder.messages { print(line) }
/// let (features, labels) = try encoder.features(of: dataset)   // [N, F], [N]
/// ```
public final class EmbeddingEncoder {
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
    public init(weights path: String, request: ModelRequest, seed: UInt64 = 0) throws {
        let resolved = try request.resolve(weights: path, dataStatistics: nil)
        var pretrained = resolved.weights
        var messages = resolved.messages
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
    public func features(of dataset: ImageDataset, batchSize: Int = 64, workers: Int = 1,
                         communicator: Communicator = SingleProcessCommunicator()) throws -> (features: Tensor, labels: [Int]) {
        try spec.checkInference(images: min(batchSize, max(dataset.count, 1)))
        return try FeatureExtractor.features(of: dataset, encoder: encoder, transform: transform, batchSize: batchSize,
                                      workers: workers, communicator: communicator)
    }

    /// A one-line description of the network, for logs.
    public var summary: String {
        let normalization = spec.mean.isEmpty ? "no normalisation"
            : "normalised with mean \(spec.mean) std \(spec.std)"
        return "\(spec.arch) (width \(spec.width), \(spec.stem) stem, \(spec.inputChannels) channel(s)), "
            + "\(spec.imageSize)x\(spec.imageSize) inputs, \(normalization)"
    }
}
