import Formats
import Foundation
import Images
import Tensors
import TestSupport
@testable import Training
import XCTest

/// `--weights` files through the command lines that take them, each a process of its own: `simclr
/// embed` and `simclr knn` say what they did to the names and end a file that does not fit in one
/// line, and scripts/convert_torch_checkpoint.py turns PyTorch checkpoints into files the encoder reads.
final class WeightImportCommandTests: XCTestCase {
    /// The commands print what happened to the names, and a file that does not fit ends in one line.
    func testCommandsPrintTheImportMessagesAndOneLineErrors() throws {
        let folder = try temporaryFolder(self)
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
        let folder = try temporaryFolder(self)
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
            XCTAssertEqual(encoder.spec, ModelSpec(arch: .resnet18, width: 0.125, stem: .imagenet, inputChannels: 3,
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
