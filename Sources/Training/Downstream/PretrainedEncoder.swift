import Formats
import Foundation
import NN
import Tensors

/// An encoder rebuilt from a weights file: ours (`encoder.safetensors`, a checkpoint, a saved
/// classifier), or a torchvision-named file from elsewhere (prefixes such as `module.` or
/// `backbone.` stripped, a classifier `fc` and projection heads ignored).
public struct PretrainedEncoder {
    /// The network and input pipeline the weights belong to.
    public var spec: ModelSpec
    /// Extra parameters may be registered in `store` before `finalize` by the caller (heads);
    /// the encoder's own are loaded from the file.
    public var file: SafeTensors
    public var report: StateDict.LoadReport

    /// The network the file's own metadata describes (written by this tool or by the converter
    /// script); nil for a file without such metadata.
    public var savedSpec: ModelSpec?

    /// Reads `path`. The model spec comes from the file's metadata when this tool wrote it;
    /// otherwise from `fallback` (built from command-line options), which is then required.
    public static func open(_ path: String, fallback: ModelSpec?) throws -> PretrainedEncoder {
        let (file, saved) = try read(path)
        guard let resolved = saved ?? fallback else {
            throw TrainingError.invalidOption(
                "--weights \(path) does not say which network it holds; give --arch, --image-size and --normalize")
        }
        return PretrainedEncoder(spec: resolved, file: file, report: StateDict.LoadReport(), savedSpec: saved)
    }

    /// The file at `path` and the network its metadata describes: `simclr.model`, or the `model` of a
    /// `simclr.config`. Metadata that is there but does not decode is an error naming the key.
    static func read(_ path: String) throws -> (file: SafeTensors, saved: ModelSpec?) {
        let file = try WeightsFile.open(path)
        var saved: ModelSpec?
        var source = "\(path), metadata simclr.model"
        if let json = file.metadata["simclr.model"] {
            saved = try JSONValue.decode(ModelSpec.self, from: json, source: source)
        } else if let json = file.metadata["simclr.config"] {
            source = "\(path), metadata simclr.config"
            saved = try JSONValue.decode(StoredModel.self, from: json, source: source).model
        }
        try saved?.checkBuildable(source: source)
        return (file, saved)
    }

    /// The one field of a saved run config this type reads.
    private struct StoredModel: Decodable {
        var model: ModelSpec?
    }

    /// Builds the encoder into `store` (not yet finalised), finalises it, and loads the weights.
    /// `register` adds further parameters (a classifier head) between the two.
    public mutating func build(into store: ParameterStore, seed: UInt64,
                               register: (ResNet) -> Void = { _ in }) throws -> ResNet {
        try spec.checkBuildable(source: "the encoder")
        let encoder = ResNet(spec.resNetConfig, store: store, kernels: .default)
        register(encoder)
        store.finalize(seed: seed)
        let encoderNames = Set(encoder.parameterNames(in: store))
        report = try StateDict.load(file, into: store, include: { encoderNames.contains($0) })
        return encoder
    }
}

extension ResNet {
    /// The names of this encoder's parameters and buffers in `store` (everything registered before
    /// any head: torchvision names without a prefix that a head uses).
    func parameterNames(in store: ParameterStore) -> [String] {
        (store.parameters.map(\.name) + store.buffers.map(\.name)).filter {
            !$0.hasPrefix("fc.") && !$0.hasPrefix(SimCLRNetwork.headPrefix + ".")
        }
    }
}
