import Foundation
import Pipelines
import Training
import XCTest

/// The demo's stages with a stand-in for `simclr`: a shell script that logs its arguments and
/// writes what each subcommand leaves in its run folder.
final class DemoPipelineTests: XCTestCase {
    var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("demo-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: folder)
    }

    /// The stand-in. A pretraining without --resume sends SIGTERM to its parent (this test process,
    /// running the demo) and, when the demo passes it on, writes a checkpoint and exits 130, as
    /// `simclr pretrain` does (or gives up after 10 s); with --resume it writes the encoder. Test accuracies: linear 0.81 on
    /// the SimCLR encoder and 0.71 on a random one, fine-tuned 0.76 and 0.75, k-NN 0.79.
    func writeStandIn() throws -> URL {
        let url = folder.appendingPathComponent("simclr.sh")
        try """
        #!/bin/sh
        echo "$@" >> "\(folder.path)/calls.txt"
        words="$*"; out=""; resume=""
        while [ $# -gt 0 ]; do
          case "$1" in --out) out="$2"; shift 2;; --resume) resume=1; shift;; *) shift;; esac
        done
        mkdir -p "$out"
        summary() { printf '{"%s": %s}\\n' "$1" "$2" > "$out/summary.json"; }
        case "$words" in
          pretrain*)
            mkdir -p "$out/checkpoints"
            if [ -z "$resume" ]; then
              trap 'echo weights > "$out/checkpoints/last.safetensors"; exit 130' TERM
              kill -TERM $PPID
              i=0; while [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
            fi
            echo weights > "$out/encoder.safetensors";;
          knn*) summary top1 0.79;;
          *"--mode linear"*"--init random"*) summary test_accuracy 0.71;;
          *"--mode linear"*) summary test_accuracy 0.81;;
          *"--init random"*) summary test_accuracy 0.75;;
          *) summary test_accuracy 0.76;;
        esac
        """.write(to: url, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: url.path)
        return url
    }

    func calls() -> [String] {
        ((try? String(contentsOf: folder.appendingPathComponent("calls.txt"), encoding: .utf8)) ?? "")
            .split(separator: "\n").map(String.init)
    }

    func testAStoppedPretrainingResumesAndFinishedStagesAreNotRunAgain() throws {
        let out = folder.appendingPathComponent("demo")
        var messages: [String] = []
        let demo = DemoPipeline(binary: try writeStandIn().path, data: nil, out: out, pretrainSteps: 5,
                                log: { messages.append($0) })
        // A pretraining folder without a checkpoint is started afresh.
        let pretrain = out.appendingPathComponent("pretrain")
        try FileManager.default.createDirectory(at: pretrain, withIntermediateDirectories: true)
        try Data().write(to: pretrain.appendingPathComponent("leftover"))
        // The raw-pixel baseline runs in this process; its result is given.
        let rawPixels = out.appendingPathComponent("raw-pixels")
        try FileManager.default.createDirectory(at: rawPixels, withIntermediateDirectories: true)
        try Data(#"{"test_accuracy": 0.84}"#.utf8).write(to: rawPixels.appendingPathComponent("summary.json"))

        XCTAssertThrowsError(try demo.run()) {
            XCTAssertTrue("\($0)".hasPrefix("stopped by"), "\($0)")
        }
        XCTAssertEqual(calls().count, 1)
        XCTAssertEqual(calls()[0], "pretrain --arch resnet18 --width 0.25 --stem cifar --batch-size 256 --epochs 1 "
                       + "--seed 0 --out \(pretrain.path) --steps 5")
        XCTAssertFalse(FileManager.default.fileExists(atPath: pretrain.appendingPathComponent("leftover").path))
        XCTAssertTrue(FileManager.default.fileExists(atPath: pretrain.appendingPathComponent("checkpoints/last.safetensors").path))

        // An unfinished stage's folder is cleared and the stage run again.
        let knn = out.appendingPathComponent("simclr-knn")
        try FileManager.default.createDirectory(at: knn, withIntermediateDirectories: true)
        try Data().write(to: knn.appendingPathComponent("leftover"))
        let rows = try demo.run()
        XCTAssertTrue(messages.contains("demo: resuming the pretraining in \(pretrain.path)"), "\(messages)")
        XCTAssertEqual(calls().count, 7, "\(calls())")
        XCTAssertTrue(calls()[1].hasSuffix("--steps 5 --resume"), calls()[1])
        XCTAssertFalse(FileManager.default.fileExists(atPath: knn.appendingPathComponent("leftover").path))
        XCTAssertEqual(rows.map(\.method), [
            "SimCLR, frozen encoder, linear (L-BFGS)", "SimCLR, frozen encoder, weighted k-NN",
            "logistic regression on raw pixels", "random encoder, frozen, linear (L-BFGS)",
            "SimCLR, fine-tuned", "same encoder from scratch, supervised",
        ])
        XCTAssertEqual(rows.map(\.testAccuracy), [0.81, 0.79, 0.84, 0.71, 0.76, 0.75])
        XCTAssertEqual(rows.map(\.labels), ["100%", "100%", "100%", "100%", "1%", "1%"])
        let table = try String(contentsOf: out.appendingPathComponent("results.md"), encoding: .utf8)
        XCTAssertEqual(table, DemoPipeline.table(rows) + "\n")
        XCTAssertTrue(table.contains("| SimCLR, fine-tuned | 1% | 76.00% |"), table)

        messages = []
        let again = try demo.run()
        XCTAssertEqual(calls().count, 7, "\(calls())")
        XCTAssertEqual(again.map(\.testAccuracy), rows.map(\.testAccuracy))
        XCTAssertTrue(messages.contains("demo: pretraining done (\(pretrain.path))"), "\(messages)")
    }
}
