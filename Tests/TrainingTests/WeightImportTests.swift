import Formats
import Foundation
import Images
import NN
import Tensors
import TestSupport
@testable import Training
import XCTest

/// Weights files the downstream tests open: a small random encoder saved under torchvision names,
/// with wrapper prefixes, a classifier and metadata as other tools would write them.
enum TestEncoders {
    /// resnet18 at width 1/16 with the CIFAR stem on 16-pixel RGB images, normalised with 0.5/0.25.
    static let spec = ModelSpec(arch: "resnet18", width: 0.0625, stem: "cifar", inputChannels: 3, imageSize: 16,
                                mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25])

    /// Writes an encoder of `spec` (random weights from `seed`, non-default BatchNorm statistics)
    /// to `url`: every name after `prefix`, a 10-class `fc` when `classifier`, and `simclr.model`
    /// metadata for `metadataSpec` (none when nil). `drop` leaves tensors out.
    static func write(to url: URL, spec: ModelSpec = spec, metadataSpec: ModelSpec? = spec, prefix: String = "",
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

/// `--weights` files from elsewhere: wrapper prefixes stripped (and said), a classifier ignored, the
/// network read from the tensors when the file does not say it, and clear errors for files that
/// do not fit.
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

    func testTheNetworkOfAFileWithoutMetadataIsReadFromItsTensors() throws {
        let url = folder.appendingPathComponent("foreign.safetensors")
        try TestEncoders.write(to: url, metadataSpec: nil, prefix: "module.", classifier: true)
        XCTAssertThrowsError(try EmbeddingEncoder(weights: url.path, request: .init())) {
            XCTAssertTrue("\($0)".contains("give --normalize"), "\($0)")
        }
        XCTAssertThrowsError(try EmbeddingEncoder(weights: url.path, request: .init(normalize: "auto"))) {
            XCTAssertTrue("\($0)".contains("--normalize auto is not available"), "\($0)")
        }
        XCTAssertThrowsError(try EmbeddingEncoder(weights: url.path, request: .init(arch: "resnet50", normalize: "none"))) {
            XCTAssertTrue("\($0)".contains("whose tensors are those of a resnet18"), "\($0)")
        }
        let encoder = try EmbeddingEncoder(weights: url.path, request: .init(normalize: "0.5/0.25"))
        XCTAssertEqual(encoder.spec, ModelSpec(arch: "resnet18", width: 0.0625, stem: "cifar", inputChannels: 3,
                                               imageSize: 32, mean: [0.5], std: [0.25]))
        XCTAssertTrue(encoder.messages[0].contains("no simclr.model metadata: a resnet18 (width 0.0625, cifar stem, 3 channel(s))"),
                      encoder.messages[0])

        // A prefix no tool strips, and metadata that is not a model description.
        let moco = folder.appendingPathComponent("moco.safetensors")
        try TestEncoders.write(to: moco, metadataSpec: nil, prefix: "encoder_q.")
        XCTAssertThrowsError(try EmbeddingEncoder(weights: moco.path, request: .init(normalize: "none"))) {
            XCTAssertTrue("\($0)".contains("no conv1.weight among its 120 tensors"), "\($0)")
            XCTAssertTrue("\($0)".contains("convert it with scripts/convert_torch_checkpoint.py"), "\($0)")
        }
        var broken = try SafeTensors(contentsOf: url)
        broken.metadata["simclr.model"] = "{\"arch\": 18"
        let brokenURL = folder.appendingPathComponent("broken.safetensors")
        try broken.write(to: brokenURL)
        XCTAssertThrowsError(try EmbeddingEncoder(weights: brokenURL.path, request: .init(normalize: "none"))) {
            XCTAssertTrue("\($0)".contains("metadata cannot be read"), "\($0)")
        }

        // ResNet-50 and ResNet-34 shapes.
        for (arch, stem) in [("resnet50", "imagenet"), ("resnet34", "imagenet")] {
            let spec = ModelSpec(arch: arch, width: 0.0625, stem: stem, inputChannels: 1, imageSize: 32, mean: [], std: [])
            let url = folder.appendingPathComponent("\(arch).safetensors")
            try TestEncoders.write(to: url, spec: spec, metadataSpec: nil, prefix: "backbone.")
            let shape = try ModelRequest.ResNetShape(names: try SafeTensors(contentsOf: url).names,
                                                         info: { try? SafeTensors(contentsOf: url).info($0)?.shape },
                                                         path: url.path)
            XCTAssertEqual([shape.arch, shape.stem], [arch, stem])
            XCTAssertEqual(shape.width, 0.0625)
            XCTAssertEqual(shape.inputChannels, 1)
        }
    }

    func testOptionsAgainstMetadataAreChecksOrStatedOverrides() throws {
        let url = folder.appendingPathComponent("ours.safetensors")
        try TestEncoders.write(to: url)
        XCTAssertThrowsError(try EmbeddingEncoder(weights: url.path, request: .init(arch: "resnet34"))) {
            XCTAssertTrue("\($0)".contains("--arch resnet34 contradicts"), "\($0)")
        }
        XCTAssertNoThrow(try EmbeddingEncoder(weights: url.path, request: .init(arch: "resnet18", stem: "cifar")))
        let encoder = try EmbeddingEncoder(weights: url.path, request: .init(imageSize: 24, normalize: "imagenet"))
        XCTAssertEqual(encoder.spec.imageSize, 24)
        XCTAssertEqual(encoder.spec.mean, Normalization.imageNet.mean)
        XCTAssertEqual(encoder.messages.count, 2, "\(encoder.messages)")
        XCTAssertTrue(encoder.messages[1].contains("instead of the encoder's own normalisation (mean [0.5, 0.5, 0.5]"),
                      encoder.messages[1])
    }

    /// The commands print what happened to the names, and a file that does not fit ends in one line.
    func testCommandsPrintTheImportMessagesAndOneLineErrors() throws {
        let data = folder.appendingPathComponent("data")
        try ColourIDX.write(to: data, trainPerClass: 4, testPerClass: 2)
        let weights = folder.appendingPathComponent("prefixed.safetensors")
        try TestEncoders.write(to: weights, metadataSpec: nil, prefix: "module.", classifier: true)
        let simclr = try BuiltProduct.path("simclr")
        let env = BuiltProduct.plainEnvironment()
        let embed = try ChildProcess.run(
            [simclr, "embed", "--weights", weights.path, "--normalize", "none", "--image-size", "16",
             "--data", data.path, "--out", folder.appendingPathComponent("e.npy").path, "--threads", "1"],
            environment: env, timeout: 120)
        XCTAssertEqual(embed.status, 0, embed.output)
        XCTAssertTrue(embed.output.contains("removed the prefix 'module.' from tensor names"), embed.output)
        XCTAssertTrue(embed.output.contains("ignored 2 tensor(s) the encoder does not use: fc.bias, fc.weight"), embed.output)
        XCTAssertTrue(embed.output.contains("no simclr.model metadata: a resnet18"), embed.output)

        var wider = TestEncoders.spec
        wider.width = 0.125
        let mismatched = folder.appendingPathComponent("mismatched.safetensors")
        try TestEncoders.write(to: mismatched, metadataSpec: wider, prefix: "backbone.")
        let knn = try ChildProcess.run([simclr, "knn", "--weights", mismatched.path, "--data", data.path, "--k", "3"],
                                       environment: env, timeout: 120)
        XCTAssertEqual(knn.status, 1, knn.output)
        let errorLines = knn.output.split(separator: "\n").filter { $0.hasPrefix("simclr: ") }
        XCTAssertEqual(errorLines.count, 1, knn.output)
        XCTAssertTrue(errorLines.first?.contains("does not fit the model: shape mismatch conv1.weight") ?? false, knn.output)
    }

    /// scripts/convert_torch_checkpoint.py on the common layouts, then our encoder on the result
    /// against torchvision's features. Needs a Python with torch, torchvision and safetensors
    /// (SIMCLR_TORCH_PYTHON, or /tmp/torch-ref/bin/python); skipped without one. Importing torch
    /// takes seconds, so one Python process makes the checkpoints and runs the script's command
    /// line on each case (as `python convert_torch_checkpoint.py ARGS` would, exit status included).
    func testConverterHandlesCommonCheckpointLayouts() throws {
        let python = try Self.torchPython()
        let scripts = BuiltProduct.packageRoot.appendingPathComponent("scripts").path
        let hub = folder.appendingPathComponent("torch-home/hub/checkpoints")
        try FileManager.default.createDirectory(at: hub, withIntermediateDirectories: true)
        let driver = folder.appendingPathComponent("driver.py")
        try """
        import argparse, contextlib, io, json, os, runpy, sys, torch
        from safetensors.torch import save_file
        sys.path.insert(0, "\(scripts)")
        from make_parity_fixture import NarrowResNet, BasicBlock
        torch.manual_seed(0)
        # torchvision's resnet18 at width 1/8, so that the test stays quick.
        m = NarrowResNet(BasicBlock, [2, 2, 2, 2], 0.125, "imagenet", 3, 7)
        with torch.no_grad():
            for b in m.modules():
                if isinstance(b, torch.nn.BatchNorm2d):
                    b.running_mean.uniform_(-0.2, 0.2); b.running_var.uniform_(0.5, 2); b.weight.uniform_(0.5, 1.5)
        m.eval()
        sd = m.state_dict()
        x = torch.randn(2, 3, 32, 32)
        m.fc = torch.nn.Identity()
        with torch.no_grad():
            f = m(x)
        save_file({"input": x.permute(0, 2, 3, 1).contiguous(), "features": f}, "io.safetensors")
        torch.save({"epoch": 9, "state_dict": {**{"module.backbone." + k: v for k, v in sd.items() if not k.startswith("fc.")},
                    "module.projector.0.weight": torch.zeros(8, 64)}, "optimizer": {"lr": 0.1}}, "community.pth")
        torch.save({"state_dict": {**{"module.encoder_q." + k: v for k, v in sd.items()},
                                   **{"module.encoder_k." + k: v + 1 for k, v in sd.items()}}}, "moco.pth")
        torch.save({"model": {k: v.half() if v.is_floating_point() else v for k, v in sd.items()},
                    "args": argparse.Namespace(lr=1)}, "pickled.pth")
        cached = "torch-home/hub/checkpoints/resnet18-f37072fd.pth"
        torch.save(sd, cached)

        def convert(*arguments):
            out, status = io.StringIO(), 0
            sys.argv = ["convert_torch_checkpoint.py", *arguments]
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
                try:
                    runpy.run_path("\(scripts)/convert_torch_checkpoint.py", run_name="__main__")
                except SystemExit as exit:
                    status = exit.code if isinstance(exit.code, int) else (0 if exit.code is None else 1)
            return {"status": status, "output": out.getvalue()}

        results = {
            "community": convert("community.pth", "community.safetensors"),
            "moco": convert("moco.pth", "moco.safetensors", "--arch", "resnet18"),
            "pickled": convert("pickled.pth", "pickled.safetensors", "--unsafe-pickle"),
            "refused": convert("pickled.pth", "refused.safetensors"),
            "wrong-arch": convert("moco.pth", "wrong.safetensors", "--arch", "resnet50"),
            "hub": convert("--torchvision-imagenet", "resnet18", "hub.safetensors"),
        }
        os.remove(cached)
        results["absent"] = convert("--torchvision-imagenet", "resnet18", "absent.safetensors")
        json.dump(results, open("results.json", "w"))
        """.write(to: driver, atomically: true, encoding: .utf8)
        var env = BuiltProduct.plainEnvironment()
        env["TORCH_HOME"] = folder.appendingPathComponent("torch-home").path
        let made = try ChildProcess.run(["sh", "-c", "cd '\(folder.path)' && \"$0\" \"$@\"", python, driver.path],
                                        environment: env, timeout: 300)
        XCTAssertEqual(made.status, 0, made.output)
        let results = try XCTUnwrap(JSONSerialization.jsonObject(
            with: Data(contentsOf: folder.appendingPathComponent("results.json"))) as? [String: [String: Any]])
        func check(_ name: String, status: Int, _ messages: [String], file: StaticString = #filePath, line: UInt = #line) {
            let output = results[name]?["output"] as? String ?? ""
            XCTAssertEqual(results[name]?["status"] as? Int, status, "\(name): \(output)", file: file, line: line)
            for message in messages {
                XCTAssertTrue(output.contains(message), "\(name): \(message) not in \(output)", file: file, line: line)
            }
        }
        check("community", status: 0, ["using the tensors under 'state_dict'", "removed the prefix 'module.backbone.'",
                                       "dropped 1 tensor(s) that are not the encoder's: module.projector.0.weight"])
        check("moco", status: 0, ["removed the prefix 'module.encoder_q.'",
                                  "dropped 124 tensor(s) that are not the encoder's: module.encoder_k.bn1.bias"])
        check("pickled", status: 0, ["using the tensors under 'model'", "dropped 2 tensor(s) that are not the encoder's: fc.bias, fc.weight"])
        check("refused", status: 1, ["cannot read pickled.pth with weights_only=True", "add --unsafe-pickle"])
        check("wrong-arch", status: 1, ["--arch resnet50, but moco.pth holds a resnet18"])
        check("hub", status: 0, ["wrote hub.safetensors: resnet18, width 0.125"])
        check("absent", status: 1, ["are not on this machine: expected \(hub.path)/resnet18-f37072fd.pth",
                                    "Download https://download.pytorch.org/models/resnet18-f37072fd.pth"])

        let io = try SafeTensors(contentsOf: folder.appendingPathComponent("io.safetensors"))
        let x = Tensor(shape: [2, 32, 32, 3], values: try io.floats("input"))
        let expected = try io.floats("features")
        let scale = expected.map(abs).max() ?? 1
        for name in ["community", "moco", "pickled", "hub"] {
            let encoder = try EmbeddingEncoder(weights: folder.appendingPathComponent("\(name).safetensors").path,
                                               request: .init())
            XCTAssertEqual(encoder.spec, ModelSpec(arch: "resnet18", width: 0.125, stem: "imagenet", inputChannels: 3,
                                                   imageSize: 224, mean: Normalization.imageNet.mean,
                                                   std: Normalization.imageNet.std), name)
            XCTAssertEqual(encoder.messages, [], name)
            let features = encoder.encoder.forward(x, mode: .evaluation).array
            // The half-precision checkpoint rounds the weights.
            let tolerance: Float = name == "pickled" ? 2e-2 : 1e-4
            assertClose(features, expected, rtol: tolerance, atol: tolerance * scale, name)
        }
    }

    /// A Python interpreter with the reference packages, found without importing them (which takes seconds).
    static func torchPython() throws -> String {
        let candidates = [ProcessInfo.processInfo.environment["SIMCLR_TORCH_PYTHON"], "/tmp/torch-ref/bin/python"]
        for case let path? in candidates where FileManager.default.isExecutableFile(atPath: path) {
            let lib = URL(fileURLWithPath: path).deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("lib")
            let versions = (try? FileManager.default.contentsOfDirectory(atPath: lib.path)) ?? []
            let hasPackages = versions.contains { version in
                ["torch", "torchvision", "safetensors"].allSatisfy {
                    FileManager.default.fileExists(atPath: lib.path + "/\(version)/site-packages/\($0)")
                }
            }
            if hasPackages || ProcessInfo.processInfo.environment["SIMCLR_TORCH_PYTHON"] == path { return path }
        }
        throw XCTSkip("no Python with torch, torchvision and safetensors (set SIMCLR_TORCH_PYTHON)")
    }
}
