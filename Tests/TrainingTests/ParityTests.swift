import Formats
import Foundation
import NN
import Tensors
import TestSupport
@testable import Training
import XCTest

/// Encoders loaded from torchvision-named files give torchvision's features in evaluation mode. The
/// fixtures (small ResNet-18/50 built from torchvision's own classes, random weights and BatchNorm
/// statistics, wrapper prefixes, a classifier `fc`) are written by scripts/make_parity_fixture.py.
final class ParityTests: XCTestCase {
    struct FixtureModel {
        var key: String
        var file: String
        var arch: Architecture
        var width: Double
        var stem: ResNetConfig.Stem
        var inputChannels: Int
        var imageSize: Int
        var prefix: String
        var hasMetadata: Bool
        var classes: Int
    }

    static func fixture(_ name: String) throws -> URL {
        let base = (name as NSString).deletingPathExtension, ext = (name as NSString).pathExtension
        guard let url = Bundle.module.url(forResource: base, withExtension: ext, subdirectory: "Fixtures") else {
            throw XCTSkip("fixture \(name) is not bundled")
        }
        return url
    }

    func models(_ io: SafeTensors) throws -> [FixtureModel] {
        let text = try XCTUnwrap(io.metadata["models"])
        let list = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]])
        return list.map { m in
            FixtureModel(key: m["key"] as! String, file: m["file"] as! String, arch: Architecture(rawValue: m["arch"] as! String)!,
                         width: (m["width"] as! NSNumber).doubleValue, stem: ResNetConfig.Stem(rawValue: m["stem"] as! String)!,
                         inputChannels: (m["inputChannels"] as! NSNumber).intValue,
                         imageSize: (m["imageSize"] as! NSNumber).intValue, prefix: m["prefix"] as! String,
                         hasMetadata: (m["metadata"] as! NSNumber).boolValue, classes: (m["classes"] as! NSNumber).intValue)
        }
    }

    /// `‖ours - theirs‖∞ ≤ 1e-4 · ‖theirs‖∞`, and the features are not degenerate.
    func assertFeaturesMatch(_ ours: Tensor, _ theirs: [Float], shape: [Int], _ label: String,
                             file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(ours.shape, shape, label, file: file, line: line)
        let scale = theirs.map(abs).max() ?? 0
        XCTAssertGreaterThan(scale, 0.1, "\(label): reference features are degenerate", file: file, line: line)
        assertClose(ours.array, theirs, rtol: 1e-4, atol: 1e-4 * scale, label, file: file, line: line)
    }

    func testEncodersLoadedFromTorchvisionNamesGiveTorchvisionFeatures() throws {
        let io = try SafeTensors(contentsOf: try Self.fixture("parity_io.safetensors"))
        let listed = try models(io)
        XCTAssertEqual(listed.map(\.arch.rawValue).sorted(), ["resnet18", "resnet18", "resnet50"])
        for model in listed {
            let path = try Self.fixture(model.file).path
            // Files without metadata get the pipeline from the options, as on the command line.
            let overrides = model.hasMetadata ? ModelRequest()
                : ModelRequest(imageSize: model.imageSize, normalize: .identity)
            let encoder = try EmbeddingEncoder(weights: path, request: overrides)
            XCTAssertEqual(encoder.spec.arch, model.arch, model.key)
            XCTAssertEqual(encoder.spec.width, model.width, model.key)
            XCTAssertEqual(encoder.spec.stem, model.stem, model.key)
            XCTAssertEqual(encoder.spec.inputChannels, model.inputChannels, model.key)
            XCTAssertEqual(encoder.spec.imageSize, model.imageSize, model.key)
            let messages = encoder.messages.joined(separator: "\n")
            for prefix in model.prefix.split(separator: ".") {
                XCTAssertTrue(messages.contains("removed the prefix '\(prefix).'"), "\(model.key): \(messages)")
            }
            XCTAssertEqual(messages.contains("fc.weight"), model.classes > 0, "\(model.key): \(messages)")

            let inputShape = try XCTUnwrap(io.info(model.key + ".input")).shape
            let x = Tensor(shape: inputShape, values: try io.floats(model.key + ".input"))
            let expected = try io.floats(model.key + ".features")
            let features = encoder.encoder.forward(x, mode: .evaluation)
            assertFeaturesMatch(features, expected, shape: try XCTUnwrap(io.info(model.key + ".features")).shape, model.key)
        }
    }

    /// The mechanics underneath, without `EmbeddingEncoder`: `PretrainedEncoder` with a fallback spec,
    /// `StateDict.load` reporting the stripped prefix and the unused classifier.
    func testPretrainedEncoderAndStateDictAloneMatchTorchvision() throws {
        let io = try SafeTensors(contentsOf: try Self.fixture("parity_io.safetensors"))
        let model = try XCTUnwrap(try models(io).first { $0.key == "resnet18" })
        let spec = ModelSpec(arch: model.arch, width: model.width, stem: model.stem, inputChannels: model.inputChannels,
                             imageSize: model.imageSize, mean: [], std: [])
        var pretrained = try PretrainedEncoder.open(try Self.fixture(model.file).path, fallback: spec)
        XCTAssertEqual(pretrained.spec, spec)
        let store = ParameterStore()
        let encoder = try pretrained.build(into: store, seed: 1)
        XCTAssertEqual(pretrained.report.strippedPrefixes, ["module."])
        XCTAssertEqual(pretrained.report.unused, ["fc.bias", "fc.weight"])
        // The running statistics came from the file (torchvision counts 3 batches), not the defaults.
        XCTAssertEqual(store.buffer(named: "bn1.num_batches_tracked")?[0], 3)
        XCTAssertNotEqual(store.buffer(named: "layer4.1.bn2.running_var")?[0], 1)

        let x = Tensor(shape: try XCTUnwrap(io.info("resnet18.input")).shape, values: try io.floats("resnet18.input"))
        let expected = try io.floats("resnet18.features")
        assertFeaturesMatch(encoder.forward(x, mode: .evaluation), expected, shape: [x.shape[0], 64], "resnet18")
        // Training mode (batch statistics) is not what torchvision's eval() computes: the check can fail.
        let trainMode = encoder.forward(x, mode: .training).array
        let worst = zip(trainMode, expected).map { abs($0 - $1) }.max() ?? 0
        XCTAssertGreaterThan(worst, 1e-2)
    }
}
