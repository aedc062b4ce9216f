import Foundation
import TestSupport
import Pipelines
@testable import Training
import XCTest

/// `simclr sweep` with a stand-in for `simclr finetune`: a shell script that logs its arguments and
/// writes a summary.json whose accuracy encodes the cell (or fails when told to).
final class SweepTests: XCTestCase {
    var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("sweep-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: folder)
    }

    /// The stand-in: appends its arguments to calls.txt; test accuracy = 0.5 + (0.3 with weights)
    /// + (0.1 at --lr 1e-3) + (0.05 in --mode full); fails for --lr 0.5 while FAIL_LR is set.
    func writeStandIn() throws -> URL {
        let url = folder.appendingPathComponent("finetune.sh")
        try """
        #!/bin/sh
        echo "$@" >> "\(folder.path)/calls.txt"
        out=""; acc=0.5
        while [ $# -gt 0 ]; do
          case "$1" in
            --out) out="$2"; shift 2;;
            --weights) acc=$(awk "BEGIN { print $acc + 0.3 }"); shift 2;;
            --lr) [ "$2" = "1e-3" ] && acc=$(awk "BEGIN { print $acc + 0.1 }")
                  [ "$2" = "0.5" ] && [ -n "$FAIL_LR" ] && { echo "Error: the loss became nan" >&2; echo "See 'simclr finetune --help'." >&2; exit 2; }
                  shift 2;;
            --mode) [ "$2" = "full" ] && acc=$(awk "BEGIN { print $acc + 0.05 }"); shift 2;;
            *) shift;;
          esac
        done
        mkdir -p "$out"
        echo "training..." > "$out/metrics.jsonl"
        printf '{"test_accuracy": %s, "test_top5_accuracy": 0.99, "mean_per_class_accuracy": %s, "best_val_accuracy": 0.7, "wall_seconds": 2.5}\\n' "$acc" "$acc" > "$out/summary.json"
        """.write(to: url, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: url.path)
        return url
    }

    func calls() -> [String] {
        ((try? String(contentsOf: folder.appendingPathComponent("calls.txt"), encoding: .utf8)) ?? "")
            .split(separator: "\n").map(String.init)
    }

    func sweep(_ arguments: [String], environment extra: [String: String] = [:]) throws -> (status: Int32, seconds: Double, output: String) {
        var env = BuiltProduct.plainEnvironment()
        env.merge(extra) { $1 }
        return try ChildProcess.run(["sh", "-c", "cd '\(folder.path)' && \"$0\" \"$@\"", try BuiltProduct.path("simclr"), "sweep"] + arguments,
                                    environment: env, timeout: 120)
    }

    func readCSV() throws -> [[String]] {
        try String(contentsOf: folder.appendingPathComponent("out/results.csv"), encoding: .utf8)
            .split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
    }

    func testTinySweepWritesTableAndChartsAndSkipsFinishedCellsOnRerun() throws {
        let standIn = try writeStandIn()
        try Data("w".utf8).write(to: folder.appendingPathComponent("enc.safetensors"))
        let arguments = ["--grid", "lr=1e-3,1e-2;mode=full,linear", "--models", "simclr=enc.safetensors,random",
                         "--data", "some/data", "--epochs", "3", "--finetune-command", standIn.path, "--out", "out"]
        let first = try sweep(arguments)
        XCTAssertEqual(first.status, 0, first.output)
        XCTAssertEqual(calls().count, 8)
        // Fixed options, the cell's settings, the model and the cell folder, in that order.
        XCTAssertEqual(calls()[0], "--data some/data --epochs 3 --lr 1e-3 --mode full --weights enc.safetensors "
                       + "--out \(folder.path)/out/cells/simclr-lr=1e-3_mode=full")
        XCTAssertEqual(calls()[7], "--data some/data --epochs 3 --lr 1e-2 --mode linear --init random "
                       + "--out \(folder.path)/out/cells/random-lr=1e-2_mode=linear")

        let csv = try readCSV()
        XCTAssertEqual(csv[0], ["model", "lr", "mode", "test_accuracy", "test_top5_accuracy", "mean_per_class_accuracy",
                                "best_val_accuracy", "wall_seconds", "status"])
        XCTAssertEqual(csv.count, 9)
        XCTAssertEqual(csv[1], ["simclr", "1e-3", "full", "0.95", "0.99", "0.95", "0.7", "2.5", "finished"])
        XCTAssertEqual(csv[8], ["random", "1e-2", "linear", "0.5", "0.99", "0.5", "0.7", "2.5", "finished"])
        let markdown = try String(contentsOf: folder.appendingPathComponent("out/results.md"), encoding: .utf8)
        XCTAssertTrue(markdown.contains("| simclr | 1e-3 | full | 0.9500 | 0.9900 | 0.9500 | 0.7000 | 2.5 | finished |"), markdown)
        XCTAssertTrue(first.output.contains("| random | 1e-2 | linear | 0.5000 |"), first.output)

        // One chart per variable: bars are means over the other variable (simclr at lr 1e-3: (0.95 + 0.9) / 2).
        let byLR = try String(contentsOf: folder.appendingPathComponent("out/test_accuracy_by_lr.svg"), encoding: .utf8)
        XCTAssertEqual(byLR.components(separatedBy: "class=\"bar\"").count - 1, 4)
        XCTAssertTrue(byLR.contains(">0.925<"), byLR)
        XCTAssertTrue(byLR.contains(">0.525<"), byLR)   // random at lr 1e-2: (0.55 + 0.5) / 2
        let byMode = try String(contentsOf: folder.appendingPathComponent("out/test_accuracy_by_mode.svg"), encoding: .utf8)
        XCTAssertTrue(byMode.contains(">0.900<"), byMode)   // simclr, full: (0.95 + 0.85) / 2

        let second = try sweep(arguments)
        XCTAssertEqual(second.status, 0, second.output)
        XCTAssertEqual(second.output.components(separatedBy: "skipping finished cell").count - 1, 8, second.output)
        XCTAssertEqual(calls().count, 8)
        XCTAssertEqual(try readCSV(), csv)

        // Other fixed options would mix two sweeps in one table.
        let changed = try sweep(arguments.map { $0 == "3" ? "4" : $0 })
        XCTAssertEqual(changed.status, 1)
        XCTAssertTrue(changed.output.contains("holds a sweep whose cells got other options"), changed.output)
    }

    func testAFailingCellIsReportedTheOthersRunAndARerunRetriesIt() throws {
        let standIn = try writeStandIn()
        let arguments = ["--grid", "lr=1e-3,0.5", "--models", "random", "--mode", "linear", "--out", "out"]
        // The stand-in comes from the environment here.
        let failing = try sweep(arguments, environment: ["SIMCLR_SWEEP_FINETUNE": standIn.path, "FAIL_LR": "1"])
        XCTAssertEqual(failing.status, 1, failing.output)
        XCTAssertTrue(failing.output.contains("cell random-lr=0.5 FAILED: exit status 2"), failing.output)
        // The cell's first error line is quoted, not the usage hint after it.
        XCTAssertTrue(failing.output.contains("\n    Error: the loss became nan"), failing.output)
        XCTAssertFalse(failing.output.contains("    See 'simclr"), failing.output)
        XCTAssertTrue(failing.output.contains("simclr: 1 of 2 cell(s) failed: random-lr=0.5"), failing.output)
        XCTAssertTrue(failing.output.contains("finished random-lr=1e-3: test accuracy 0.6000"), failing.output)
        var csv = try readCSV()
        XCTAssertEqual(csv[2], ["random", "0.5", "", "", "", "", "", "failed"])
        XCTAssertTrue(try String(contentsOf: folder.appendingPathComponent("out/logs/random-lr=0.5.log"), encoding: .utf8)
            .contains("the loss became nan"))

        // A cell folder that another job holds is left to it: not cleared, not run.
        let cell = folder.appendingPathComponent("out/cells/random-lr=0.5")
        try FileManager.default.createDirectory(at: cell, withIntermediateDirectories: true)
        try Data("partial".utf8).write(to: cell.appendingPathComponent("metrics.jsonl"))
        let holder = try RunFolderLock(folder: cell, path: cell.path)
        let busy = try sweep(arguments, environment: ["SIMCLR_SWEEP_FINETUNE": standIn.path])
        XCTAssertEqual(busy.status, 1, busy.output)
        XCTAssertTrue(busy.output.contains("random-lr=0.5 is being run by another job"), busy.output)
        XCTAssertEqual(try String(contentsOf: cell.appendingPathComponent("metrics.jsonl"), encoding: .utf8), "partial")
        XCTAssertEqual(calls().count, 2)
        holder.release()
        // Nor can a second sweep share the folder while one runs.
        let sweepHolder = try RunFolderLock(folder: folder.appendingPathComponent("out"), path: "out")
        let second = try sweep(arguments, environment: ["SIMCLR_SWEEP_FINETUNE": standIn.path])
        XCTAssertNotEqual(second.status, 0, second.output)
        XCTAssertTrue(second.output.contains("in use by another job"), second.output)
        sweepHolder.release()

        // A cell folder left without summary.json is cleared and run again; the finished one is not.
        let retried = try sweep(arguments, environment: ["SIMCLR_SWEEP_FINETUNE": standIn.path])
        XCTAssertEqual(retried.status, 0, retried.output)
        XCTAssertTrue(retried.output.contains("skipping finished cell random-lr=1e-3"), retried.output)
        XCTAssertTrue(retried.output.contains("removing the unfinished folder of random-lr=0.5"), retried.output)
        XCTAssertEqual(calls().count, 3)
        csv = try readCSV()
        XCTAssertEqual(csv[2], ["random", "0.5", "0.5", "0.99", "0.5", "0.7", "2.5", "finished"])
    }

    /// SIGTERM to the sweep ends the running cell with everything it started, and the sweep exits 130.
    func testAStopSignalEndsTheRunningCellAndWhatItStarted() throws {
        let slow = folder.appendingPathComponent("slow.sh")
        let pidFile = folder.appendingPathComponent("sleep.pid")
        try """
        #!/bin/sh
        sleep 30 &
        echo $! > "\(pidFile.path)"
        wait
        """.write(to: slow, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: slow.path)
        let sweep = try ChildProcess([try BuiltProduct.path("simclr"), "sweep", "--grid", "lr=1,2", "--models", "random",
                                      "--finetune-command", slow.path, "--out", folder.appendingPathComponent("out").path],
                                     environment: BuiltProduct.plainEnvironment())
        let deadline = Date(timeIntervalSinceNow: 30)
        while !FileManager.default.fileExists(atPath: pidFile.path) && Date() < deadline { usleep(20_000) }
        usleep(100_000)
        let sleeper = try XCTUnwrap(Int32(String(contentsOf: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        kill(sweep.process.pid, SIGTERM)
        let ended = try XCTUnwrap(sweep.wait(timeout: 20), sweep.output)
        XCTAssertEqual(ended.status, 130, sweep.output)
        XCTAssertTrue(sweep.output.contains("random-lr=1 interrupted"), sweep.output)
        XCTAssertFalse(sweep.output.contains("running random-lr=2"), sweep.output)
        // The grandchild is gone (or a zombie waiting for init to reap it).
        let stat = (try? String(contentsOfFile: "/proc/\(sleeper)/stat", encoding: .utf8)) ?? ""
        XCTAssertTrue(stat.isEmpty || stat.contains(") Z "), stat)
    }
}
