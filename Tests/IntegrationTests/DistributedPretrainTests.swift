import Formats
import Foundation
import TestSupport
import XCTest

/// Real `simclr pretrain` processes under mpirun: P ranks against one process, a rank killed
/// mid-run, and a run across two hosts made of network namespaces.
final class DistributedPretrainTests: XCTestCase {
    var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("mpi-pretrain-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: folder)
    }

    /// A tiny network on the synthetic set: 12 images a step divide among 1, 2 and 3 ranks. The rate
    /// is pinned small (0.3 x 12/256): the small-image default (0.075 sqrt(12) = 0.26) amplifies the
    /// rounding differences of other rank counts beyond these tolerances within two steps.
    func arguments(out: String, steps: Int, extra: [String] = []) -> [String] {
        ["pretrain", "--width", "0.0625", "--image-size", "16", "--batch-size", "12", "--epochs", "2",
         "--steps", String(steps), "--proj-hidden", "16", "--proj-dim", "8", "--proj-bn", "--threads", "1",
         "--seed", "5", "--normalize", "0.5/0.25", "--lr", "0.0140625", "--out", folder.appendingPathComponent(out).path] + extra
    }

    func mpirun(_ np: Int, _ arguments: [String]) throws -> [String] {
        ["mpirun", "-np", String(np), "--oversubscribe", "--bind-to", "none", "--mca", "btl", "self,vader",
         try BuiltProduct.path("simclr")] + arguments
    }

    func losses(_ run: String) throws -> [Double] {
        let text = try String(contentsOf: folder.appendingPathComponent("\(run)/metrics.jsonl"), encoding: .utf8)
        return try text.split(separator: "\n").compactMap {
            (try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["loss"] as? Double
        }
    }

    func weights(_ run: String) throws -> [String: [Float]] {
        let file = try SafeTensors(contentsOf: folder.appendingPathComponent("\(run)/encoder.safetensors"))
        var out: [String: [Float]] = [:]
        for name in file.names where !name.hasSuffix("num_batches_tracked") && !name.contains("running_") {
            out[name] = try file.floats(name)
        }
        return out
    }

    func assertSameRun(_ a: String, _ b: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let la = try losses(a), lb = try losses(b)
        XCTAssertEqual(la.count, lb.count, "\(a) vs \(b)", file: file, line: line)
        for (x, y) in zip(la, lb) {
            XCTAssertEqual(x, y, accuracy: 1e-5 * abs(y), "loss \(a) vs \(b)", file: file, line: line)
        }
        let wa = try weights(a), wb = try weights(b)
        XCTAssertEqual(Set(wa.keys), Set(wb.keys), file: file, line: line)
        for (name, values) in wa {
            assertClose(values, wb[name] ?? [], rtol: 1e-4, atol: 1e-4, "\(name) \(a) vs \(b)", file: file, line: line)
        }
    }

    func run(_ command: [String], mpi: Bool, timeout: Double = 300) throws -> (status: Int32, output: String) {
        let env = mpi ? BuiltProduct.mpiEnvironment() : BuiltProduct.plainEnvironment()
        let result = try ChildProcess.run(command, environment: env, timeout: timeout)
        return (result.status, result.output)
    }

    func testOneTwoAndThreeRanksGiveTheSameRun() throws {
        let binary = try BuiltProduct.path("simclr")
        // The gradient all-reduce in the default 1 MB buckets (one, for this network), in buckets of
        // 100 floats started during the backward pass, and so with gradient-cache chunks.
        let tinyBuckets = ["--allreduce-bucket-mb", "0.0004"]
        for (suffix, extra) in [("", [String]()), ("-buckets", tinyBuckets), ("-micro", ["--micro-batch", "2"] + tinyBuckets)] {
            let single = try run([binary] + arguments(out: "p1" + suffix, steps: 3, extra: extra), mpi: false)
            XCTAssertEqual(single.status, 0, single.output)
            for np in [2, 3] {
                let r = try run(try mpirun(np, arguments(out: "p\(np)" + suffix, steps: 3, extra: extra)), mpi: true)
                XCTAssertEqual(r.status, 0, r.output)
                try assertSameRun("p\(np)" + suffix, "p1" + suffix)
            }
        }
        // The losses are real: the runs with and without micro-batches differ (BatchNorm sees chunks).
        XCTAssertNotEqual(try losses("p1"), try losses("p1-micro"))
    }

    func testKillingARankStopsTheJobAndTheRunResumes() throws {
        let command = try mpirun(2, arguments(out: "killed", steps: 400, extra: ["--checkpoint-every", "2"]))
        let job = try ChildProcess(command, environment: BuiltProduct.mpiEnvironment())
        let checkpoint = folder.appendingPathComponent("killed/checkpoints/last.safetensors")
        let metrics = folder.appendingPathComponent("killed/metrics.jsonl")
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline, (try? String(contentsOf: metrics, encoding: .utf8))?.split(separator: "\n").count ?? 0 < 3 {
            usleep(100_000)
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: checkpoint.path), job.output)
        // mpirun's children are the two ranks; kill the second one.
        let ranks = try ChildProcess.run(["pgrep", "-P", String(job.process.pid)],
                                         environment: BuiltProduct.plainEnvironment(), timeout: 10)
        let pids = ranks.output.split(separator: "\n").compactMap { Int32($0) }.sorted()
        XCTAssertEqual(pids.count, 2, ranks.output)
        let killedAt = Date()
        kill(try XCTUnwrap(pids.last), SIGKILL)
        let ended = job.wait(timeout: 60)
        let (status, _) = try XCTUnwrap(ended, "mpirun did not exit after a rank was killed")
        XCTAssertNotEqual(status, 0)
        XCTAssertLessThan(Date().timeIntervalSince(killedAt), 30, "failure detection took too long")

        let saved = try SafeTensors(contentsOf: checkpoint)
        let step = try XCTUnwrap(Int(saved.metadata["simclr.step"] ?? ""))
        XCTAssertGreaterThanOrEqual(step, 2)
        // Resume on one process (a different number of ranks) and finish the run.
        let resumed = try run([try BuiltProduct.path("simclr")] + arguments(out: "killed", steps: step + 2, extra: ["--resume"]),
                              mpi: false)
        XCTAssertEqual(resumed.status, 0, resumed.output)
        let encoder = try SafeTensors(contentsOf: folder.appendingPathComponent("killed/encoder.safetensors"))
        XCTAssertEqual(encoder.metadata["simclr.steps"], String(step + 2))
    }

    /// A rank that stops answering (SIGSTOP: alive, holding its connections) hangs Open MPI; the
    /// other rank's watchdog, whose deadline follows the measured steps, ends the job within
    /// seconds, not minutes.
    func testAStoppedRankIsNoticedWithinSeconds() throws {
        let command = try mpirun(2, arguments(out: "stopped", steps: 4000))
        let job = try ChildProcess(command, environment: BuiltProduct.mpiEnvironment())
        let metrics = folder.appendingPathComponent("stopped/metrics.jsonl")
        let started = Date().addingTimeInterval(120)
        while Date() < started, (try? String(contentsOf: metrics, encoding: .utf8))?.split(separator: "\n").count ?? 0 < 8 {
            usleep(100_000)
        }
        let ranks = try ChildProcess.run(["pgrep", "-P", String(job.process.pid)],
                                         environment: BuiltProduct.plainEnvironment(), timeout: 10)
        let pids = ranks.output.split(separator: "\n").compactMap { Int32($0) }.sorted()
        XCTAssertEqual(pids.count, 2, ranks.output)
        let stopped = try XCTUnwrap(pids.last)
        defer { kill(stopped, SIGKILL) }
        let stoppedAt = Date()
        kill(stopped, SIGSTOP)
        let ended = job.wait(timeout: 90)
        let (status, _) = try XCTUnwrap(ended, "the job did not end after a rank stopped answering")
        XCTAssertNotEqual(status, 0)
        XCTAssertLessThan(Date().timeIntervalSince(stoppedAt), 45, "the watchdog took too long: \(job.output)")
        XCTAssertTrue(job.output.contains("made no progress"), job.output)
    }

    /// An error every rank meets (a bad option, a batch that does not divide) is printed once, by
    /// rank 0, with `mpirun --quiet` as `launch` runs it: no line per rank, no abort banner.
    func testAnErrorOfEveryRankIsPrintedOnce() throws {
        for (extra, expected) in [(["--batch-size", "15"], "does not divide among 2 ranks"),
                                  (["--lr", "-1"], "--lr must be a positive number")] {
            let command = ["mpirun", "--quiet"] + Array(try mpirun(2, arguments(out: "once", steps: 1)).dropFirst()) + extra
            let result = try run(command, mpi: true)
            XCTAssertNotEqual(result.status, 0)
            XCTAssertEqual(result.output.components(separatedBy: expected).count - 1, 1, result.output)
            XCTAssertFalse(result.output.contains("MPI_ABORT"), result.output)
        }
    }

    func testARunAcrossTwoHostsMatchesOneProcess() throws {
        let hosts = try NetworkNamespaceHosts.up()
        defer { hosts.down() }
        let binary = try BuiltProduct.path("simclr")
        let single = try run([binary] + arguments(out: "one", steps: 2), mpi: false)
        XCTAssertEqual(single.status, 0, single.output)
        let job = try ChildProcess.run(hosts.mpirun(["-np", "2", "--bind-to", "none", binary] + arguments(out: "two-hosts", steps: 2)),
                                       environment: hosts.environment, timeout: 300)
        XCTAssertEqual(job.status, 0, job.output)
        try assertSameRun("two-hosts", "one")
    }
}
