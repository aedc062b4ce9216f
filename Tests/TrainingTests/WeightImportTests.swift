import Formats
import Foundation
import Images
import NN
import Tensors
import TestSupport
@testable import Training
import XCTest

/// `--weights` files from elsewhere: wrapper prefixes stripped (and said), a classifier ignored, the
/// network read from the tensors when the file does not say it, and clear errors for files that
/// do not fit (the command lines that take such files are in WeightImportCommandTests).
final class WeightImportTests: XCTestCase {
    var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("weight-import-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: folder)
    }

    func features(_ encoder: EmbeddingEncoder) -> [Float] {
        let x = randomTensor([2, 16, 16, 3], seed: 11)
        return encoder.encoder.forward(x, mode: .evaluation).array
    }

    func testWrapperPrefixesAreStrippedAndTheClassifierIgnored() throws {
        let plainURL = folder.appendingPathComponent("plain.safetensors")
        try TestEncoders.write(to: plainURL)
        let reference = try EmbeddingEncoder(weights: plainURL.path, request: .init())
        XCTAssertEqual(reference.messages, [])
        let expected = features(reference)

        for prefix in ["module.", "backbone.", "encoder.", "module.encoder.", "module.backbone."] {
            let url = folder.appendingPathComponent("\(prefix)safetensors")
            try TestEncoders.write(to: url, prefix: prefix, classifier: true)
            let encoder = try EmbeddingEncoder(weights: url.path, request: .init())
            let messages = encoder.messages.joined(separator: "\n")
            for part in prefix.split(separator: ".") {
                XCTAssertTrue(messages.contains("removed the prefix '\(part).' from tensor names"), messages)
            }
            XCTAssertTrue(messages.contains("ignored 2 tensor(s) the encoder does not use: fc.bias, fc.weight"), messages)
            XCTAssertEqual(features(encoder), expected, prefix)
        }
    }

    func testAFileThatDoesNotFitIsRefusedNamingTheTensors() throws {
        // Weights of width 1/16 under metadata that says 1/8: every shape differs.
        var wider = TestEncoders.spec
        wider.width = 0.125
        let mismatched = folder.appendingPathComponent("mismatched.safetensors")
        try TestEncoders.write(to: mismatched, metadataSpec: wider)
        XCTAssertThrowsError(try EmbeddingEncoder(weights: mismatched.path, request: .init())) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("does not fit the model"), text)
            XCTAssertTrue(text.contains("shape mismatch conv1.weight [4, 3, 3, 3] (expected [8, 3, 3, 3])"), text)
            XCTAssertFalse(text.contains("\n"), text)
        }
        // A file without layer4.
        let truncated = folder.appendingPathComponent("truncated.safetensors")
        try TestEncoders.write(to: truncated, prefix: "module.", drop: { $0.hasPrefix("layer4.") })
        XCTAssertThrowsError(try EmbeddingEncoder(weights: truncated.path, request: .init())) { error in
            XCTAssertTrue("\(error)".contains("missing layer4.0.conv1.weight"), "\(error)")
        }
        XCTAssertThrowsError(try EmbeddingEncoder(weights: folder.appendingPathComponent("none.safetensors").path,
                                                  request: .init())) {
            XCTAssertTrue("\($0)".contains("does not exist"), "\($0)")
        }
        let notSafetensors = folder.appendingPathComponent("text.safetensors")
        try Data("hello".utf8).write(to: notSafetensors)
        XCTAssertThrowsError(try EmbeddingEncoder(weights: notSafetensors.path, request: .init())) {
            XCTAssertTrue("\($0)".contains("is not a safetensors file"), "\($0)")
        }
    }

    /// Weights holding NaN are refused when loaded, naming the tensor, instead of a first loss of
    /// NaN blamed on the learning rate.
    func testNonFiniteWeightsAreRefusedNamingTheTensor() throws {
        let url = folder.appendingPathComponent("nan.safetensors")
        try TestEncoders.write(to: url)
        var file = try SafeTensors(contentsOf: url)
        var values = try file.floats("layer1.0.conv1.weight")
        values[3] = .nan
        file.set("layer1.0.conv1.weight", shape: try XCTUnwrap(file.info("layer1.0.conv1.weight")).shape, floats: values)
        try file.write(to: url)
        XCTAssertThrowsError(try EmbeddingEncoder(weights: url.path, request: .init())) {
            XCTAssertTrue("\($0)".contains("not finite numbers"), "\($0)")
            XCTAssertTrue("\($0)".contains("layer1.0.conv1.weight"), "\($0)")
        }
    }

    func testAClassMismatchNamesTheClassesThatDiffer() {
        XCTAssertEqual(ClassifierEvaluator.classMismatch(data: ["cat", "dog", "fox"], classifier: ["cat", "dog", "owl"]),
                       "the data's classes are not the classifier's: the data has fox, which the classifier does not know; "
                       + "the classifier has owl, which the data lacks")
        XCTAssertTrue(ClassifierEvaluator.classMismatch(data: ["b", "a"], classifier: ["a", "b"]).contains("another order"))
    }

    func testTheNetworkOfAFileWithoutMetadataIsReadFromItsTensors() throws {
        let url = folder.appendingPathComponent("foreign.safetensors")
        try TestEncoders.write(to: url, metadataSpec: nil, prefix: "module.", classifier: true)
        XCTAssertThrowsError(try EmbeddingEncoder(weights: url.path, request: .init())) {
            XCTAssertTrue("\($0)".contains("give --normalize"), "\($0)")
        }
        XCTAssertThrowsError(try EmbeddingEncoder(weights: url.path, request: .init(normalize: .auto))) {
            XCTAssertTrue("\($0)".contains("--normalize auto is not available"), "\($0)")
        }
        XCTAssertThrowsError(try EmbeddingEncoder(weights: url.path, request: .init(arch: .resnet50, normalize: .identity))) {
            XCTAssertTrue("\($0)".contains("whose tensors are those of a resnet18"), "\($0)")
        }
        let encoder = try EmbeddingEncoder(weights: url.path, request: .init(normalize: NormalizationChoice(argument: "0.5/0.25")))
        XCTAssertEqual(encoder.spec, ModelSpec(arch: .resnet18, width: 0.0625, stem: .cifar, inputChannels: 3,
                                               imageSize: 32, mean: [0.5], std: [0.25]))
        XCTAssertTrue(encoder.messages[0].contains("no simclr.model metadata: a resnet18 (width 0.0625, cifar stem, 3 channel(s))"),
                      encoder.messages[0])

        // A prefix no tool strips, and metadata that is not a model description.
        let moco = folder.appendingPathComponent("moco.safetensors")
        try TestEncoders.write(to: moco, metadataSpec: nil, prefix: "encoder_q.")
        XCTAssertThrowsError(try EmbeddingEncoder(weights: moco.path, request: .init(normalize: .identity))) {
            XCTAssertTrue("\($0)".contains("no conv1.weight among its 120 tensors"), "\($0)")
            XCTAssertTrue("\($0)".contains("convert it with scripts/convert_torch_checkpoint.py"), "\($0)")
        }
        var broken = try SafeTensors(contentsOf: url)
        broken.metadata["simclr.model"] = "{\"arch\": 18"
        let brokenURL = folder.appendingPathComponent("broken.safetensors")
        try broken.write(to: brokenURL)
        XCTAssertThrowsError(try EmbeddingEncoder(weights: brokenURL.path, request: .init(normalize: .identity))) {
            XCTAssertTrue("\($0)".contains("metadata simclr.model: not valid JSON"), "\($0)")
        }
        // A stored choice that does not parse is an error naming the key, never a fallback.
        let model = String(decoding: try JSONEncoder().encode(TestEncoders.spec), as: UTF8.self)
        broken.metadata["simclr.model"] = model.replacingOccurrences(of: "\"resnet18\"", with: "\"resnet19\"")
        XCTAssertNotEqual(broken.metadata["simclr.model"], model)
        try broken.write(to: brokenURL)
        XCTAssertThrowsError(try EmbeddingEncoder(weights: brokenURL.path, request: .init(normalize: .identity))) {
            XCTAssertTrue("\($0)".contains("metadata simclr.model: key 'arch'"), "\($0)")
            XCTAssertTrue("\($0)".contains("resnet19"), "\($0)")
        }

        // ResNet-50 and ResNet-34 shapes.
        for (arch, stem) in [(Architecture.resnet50, ResNetConfig.Stem.imagenet), (.resnet34, .imagenet)] {
            let spec = ModelSpec(arch: arch, width: 0.0625, stem: stem, inputChannels: 1, imageSize: 32, mean: [], std: [])
            let url = folder.appendingPathComponent("\(arch.rawValue).safetensors")
            try TestEncoders.write(to: url, spec: spec, metadataSpec: nil, prefix: "backbone.")
            let shape = try ModelRequest.ResNetShape(names: try SafeTensors(contentsOf: url).names,
                                                         info: { try? SafeTensors(contentsOf: url).info($0)?.shape },
                                                         path: url.path)
            XCTAssertEqual(shape.arch, arch)
            XCTAssertEqual(shape.stem, stem)
            XCTAssertEqual(shape.width, 0.0625)
            XCTAssertEqual(shape.inputChannels, 1)
        }
    }

    func testOptionsAgainstMetadataAreChecksOrStatedOverrides() throws {
        let url = folder.appendingPathComponent("ours.safetensors")
        try TestEncoders.write(to: url)
        XCTAssertThrowsError(try EmbeddingEncoder(weights: url.path, request: .init(arch: .resnet34))) {
            XCTAssertTrue("\($0)".contains("--arch resnet34 contradicts"), "\($0)")
        }
        XCTAssertNoThrow(try EmbeddingEncoder(weights: url.path, request: .init(arch: .resnet18, stem: .cifar)))
        let encoder = try EmbeddingEncoder(weights: url.path, request: .init(imageSize: 24, normalize: .imagenet))
        XCTAssertEqual(encoder.spec.imageSize, 24)
        XCTAssertEqual(encoder.spec.mean, Normalization.imageNet.mean)
        XCTAssertEqual(encoder.messages.count, 2, "\(encoder.messages)")
        XCTAssertTrue(encoder.messages[1].contains("instead of the encoder's own normalisation (mean [0.5, 0.5, 0.5]"),
                      encoder.messages[1])
    }
}
