import Formats
import Foundation
import NN
import Tensors
import Training

/// Weights files the downstream tests open: a small random encoder saved under torchvision names,
/// with wrapper prefixes, a classifier and metadata as other tools would write them.
public enum TestEncoders {
    /// resnet18 at width 1/16 with the CIFAR stem on 16-pixel RGB images, normalised with 0.5/0.25.
    public static let spec = ModelSpec(arch: .resnet18, width: 0.0625, stem: .cifar, inputChannels: 3, imageSize: 16,
                                       mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25])

    /// Writes an encoder of `spec` (random weights from `seed`, non-default BatchNorm statistics)
    /// to `url`: every name after `prefix`, a 10-class `fc` when `classifier`, and `simclr.model`
    /// metadata for `metadataSpec` (none when nil). `drop` leaves tensors out.
    public static func write(to url: URL, spec: ModelSpec = spec, metadataSpec: ModelSpec? = spec, prefix: String = "",
                             classifier: Bool = false, seed: UInt64 = 5, drop: (String) -> Bool = { _ in false }) throws {
        let store = ParameterStore()
        let encoder = ResNet(spec.resNetConfig, store: store, kernels: .default)
        store.finalize(seed: seed)
        var random = RandomStream(seed: seed, index: 99)
        for b in store.buffers where b.name.hasSuffix("running_mean") || b.name.hasSuffix("running_var") {
            for i in 0..<b.tensor.count {
                b.tensor[i] = b.name.hasSuffix("var") ? random.uniform(0.5, 2) : random.uniform(-0.2, 0.2)
            }
        }
        var plain = SafeTensors()
        StateDict.export(store, into: &plain)
        var metadata = ["format": "pt"]
        if let metadataSpec {
            metadata["simclr.model"] = String(decoding: try JSONEncoder().encode(metadataSpec), as: UTF8.self)
        }
        var file = SafeTensors(metadata: metadata)
        for name in plain.names where !drop(name) {
            let info = plain.info(name)!
            file.set(prefix + name, dtype: info.dtype, shape: info.shape, bytes: try plain.bytes(name))
        }
        if classifier {
            let f = encoder.featureDimension
            file.set(prefix + "fc.weight", shape: [10, f], floats: (0..<(10 * f)).map { Float($0 % 7) * 0.01 })
            file.set(prefix + "fc.bias", shape: [10], floats: [Float](repeating: 0.1, count: 10))
        }
        try file.write(to: url)
    }
}
