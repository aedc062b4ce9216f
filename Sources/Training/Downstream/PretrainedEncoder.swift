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

    /// Reads `path`. The model spec comes from the file's metadata when this tool wrote it;
    /// otherwise from `fallback` (built from command-line options), which is then required.
    public static func open(_ path: String, fallback: ModelSpec?) throws -> PretrainedEncoder {
        let url = URL(fileURLWithPath: path)
        guard FileManager.default.fileExists(atPath: path) else {
            throw TrainingError.invalidOption("--weights \(path) does not exist")
        }
        let file: SafeTensors
        do { file = try SafeTensors(contentsOf: url) } catch {
            throw TrainingError.invalidOption("--weights \(path) is not a safetensors file: \(error)")
        }
        var spec: ModelSpec?
        if let json = file.metadata["simclr.model"] {
            spec = try? JSONDecoder().decode(ModelSpec.self, from: Data(json.utf8))
        } else if let json = file.metadata["simclr.config"],
                  let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any],
                  let model = object["model"], let data = try? JSONSerialization.data(withJSONObject: model) {
            spec = try? JSONDecoder().decode(ModelSpec.self, from: data)
        }
        guard let resolved = spec ?? fallback else {
            throw TrainingError.invalidOption(
                "--weights \(path) does not say which network it holds; give --arch, --image-size and --normalize")
        }
        return PretrainedEncoder(spec: resolved, file: file, report: StateDict.LoadReport())
    }

    /// Builds the encoder into `store` (not yet finalised), finalises it, and loads the weights.
    /// `register` adds further parameters (a classifier head) between the two.
    public mutating func build(into store: ParameterStore, seed: UInt64,
                               register: (ResNet) -> Void = { _ in }) throws -> ResNet {
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
