import Formats
import Foundation
import TestSupport
import XCTest

/// Real `simclr finetune` processes under mpirun: two ranks with half of every batch each give the
/// run of one process (full fine-tuning with synchronised BatchNorm, and a linear head on features
/// computed across ranks), and `simclr evaluate` reproduces the run's test report.
final class FineTuneDistributedTests: XCTestCase {
    var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("mpi-finetune-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: folder)
    }

    func run(_ arguments: [String], ranks: Int) throws -> String {
        let binary = try BuiltProduct.path("simclr")
        let command = ranks == 1 ? [binary] + arguments
            : ["mpirun", "-np", String(ranks), "--oversubscribe", "--bind-to", "none", "--mca", "btl", "self,vader", binary]
                + arguments
        let result = try ChildProcess.run(command, environment: ranks == 1 ? BuiltProduct.plainEnvironment()
                                            : BuiltProduct.mpiEnvironment(), timeout: 300)
        XCTAssertEqual(result.status, 0, result.output)
        return result.output
    }

    func metrics(_ run: String) throws -> [[String: Double]] {
        let text = try String(contentsOf: folder.appendingPathComponent("\(run)/metrics.jsonl"), encoding: .utf8)
        return text.split(separator: "\n").compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?
                .compactMapValues { ($0 as? NSNumber)?.doubleValue }.filter { $0.key != "wall_seconds" }
        }
    }

    func assertSameRun(_ a: String, _ b: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let ma = try metrics(a), mb = try metrics(b)
        XCTAssertEqual(ma.count, mb.count, file: file, line: line)
        for (x, y) in zip(ma, mb) {
            XCTAssertEqual(Set(x.keys), Set(y.keys), file: file, line: line)
            for (key, value) in x {
                XCTAssertEqual(value, y[key] ?? .nan, accuracy: 1e-4 * max(1, abs(value)), "\(key) \(a) vs \(b)",
                               file: file, line: line)
            }
        }
        let fa = try SafeTensors(contentsOf: folder.appendingPathComponent("\(a)/checkpoints/last.safetensors"))
        let fb = try SafeTensors(contentsOf: folder.appendingPathComponent("\(b)/checkpoints/last.safetensors"))
        XCTAssertEqual(fa.names, fb.names, file: file, line: line)
        for name in fa.names where !name.hasSuffix("num_batches_tracked") {
            assertClose(try fa.floats(name), try fb.floats(name), rtol: 1e-3, atol: 1e-4, "\(name) \(a) vs \(b)",
                        file: file, line: line)
        }
        let sa = try JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent("\(a)/summary.json")))
        let sb = try JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent("\(b)/summary.json")))
        XCTAssertEqual((sa as? [String: Any])?["best_epoch"] as? Int, (sb as? [String: Any])?["best_epoch"] as? Int,
                       file: file, line: line)
    }

    func testTwoRanksGiveTheRunOfOneProcess() throws {
        // 40 images, 4 of them for validation: 36 to train in batches of 8 (the last of 4, two per rank).
        let data = try FineTuneTests.writeIDX(folder.appendingPathComponent("data"), train: 40, test: 12)
        let full = ["finetune", "--data", data, "--mode", "full", "--init", "random", "--width", "0.0625",
                    "--image-size", "16", "--normalize", "0.5/0.25", "--batch-size", "8", "--epochs", "2",
                    "--optimizer", "sgd", "--lr", "0.05", "--threads", "1", "--seed", "3"]
        _ = try run(full + ["--out", folder.appendingPathComponent("full1").path], ranks: 1)
        // On 2 ranks, the gradient all-reduce in buckets of 100 floats started during the backward pass.
        _ = try run(full + ["--allreduce-bucket-mb", "0.0004", "--out", folder.appendingPathComponent("full2").path],
                    ranks: 2)
        try assertSameRun("full2", "full1")

        // The fine-tuned classifier (encoder and fc) as pretrained weights of a linear head with
        // augmented images, then on cached features: fc is ignored, the encoder loads.
        let weights = folder.appendingPathComponent("full1/checkpoints/best.safetensors").path
        for augment in ["light", "none"] {
            let linear = ["finetune", "--data", data, "--mode", "linear", "--weights", weights, "--augment", augment,
                          "--batch-size", "8", "--epochs", "2", "--optimizer", "sgd", "--lr", "0.1", "--threads", "1", "--seed", "3"]
            _ = try run(linear + ["--out", folder.appendingPathComponent("\(augment)1").path], ranks: 1)
            _ = try run(linear + ["--out", folder.appendingPathComponent("\(augment)2").path], ranks: 2)
            try assertSameRun("\(augment)2", "\(augment)1")
        }

        // evaluate on the saved best checkpoint prints and writes the run's test report.
        let reportFolder = folder.appendingPathComponent("evaluation")
        let output = try run(["evaluate", "--weights", weights, "--data", data, "--out", reportFolder.path, "--threads", "1"],
                             ranks: 1)
        let report = try String(contentsOf: folder.appendingPathComponent("full1/report.txt"), encoding: .utf8)
        XCTAssertEqual(try String(contentsOf: reportFolder.appendingPathComponent("report.txt"), encoding: .utf8), report)
        XCTAssertTrue(output.contains(report), output)
        XCTAssertEqual(try String(contentsOf: reportFolder.appendingPathComponent("confusion.csv"), encoding: .utf8),
                       try String(contentsOf: folder.appendingPathComponent("full1/confusion.csv"), encoding: .utf8))
    }

    func testBadOptionsAndFilesEndInOneLine() throws {
        let binary = try BuiltProduct.path("simclr")
        let data = try FineTuneTests.writeIDX(folder.appendingPathComponent("data"), train: 8, test: 4)
        let bogus = folder.appendingPathComponent("bogus.safetensors")
        try Data("not a safetensors file".utf8).write(to: bogus)
        let out = folder.appendingPathComponent("run").path
        for (arguments, expected) in [
            (["--mode", "full"], "give --weights FILE"),
            (["--mode", "sideways", "--init", "random"], "'sideways' is invalid for '--mode"),
            (["--mode", "full", "--init", "random", "--optimizer", "lbfgs"], "--optimizer lbfgs fits a logistic regression"),
            (["--mode", "linear", "--weights", bogus.path], "is not a safetensors file"),
        ] {
            let result = try ChildProcess.run([binary, "finetune", "--data", data, "--out", out] + arguments,
                                              environment: BuiltProduct.plainEnvironment(), timeout: 60)
            XCTAssertNotEqual(result.status, 0, arguments.joined(separator: " "))
            XCTAssertTrue(result.output.contains(expected), result.output)
            XCTAssertFalse(result.output.contains("Fatal error"), result.output)
        }
    }
}
