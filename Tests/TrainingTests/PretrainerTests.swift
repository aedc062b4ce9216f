import ArgumentParser
import Distributed
import Formats
import Foundation
import Images
import Tensors
import TestSupport
@testable import Training
import XCTest

/// Small pretraining runs in-process (one rank, no MPI): resume, signals, non-finite losses, bad
/// images, and what the run folder holds.
final class PretrainerTests: XCTestCase {
    var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("pretrain-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: folder)
    }

    static func config(out: URL, steps: Int?, data: String? = nil, format: DatasetFormat = .auto, optimizer: PretrainOptimizer = .lars,
                       lr: Float = 0.3, batch: Int = 8, microBatch: Int? = nil) -> PretrainConfig {
        let model = ModelSpec(arch: .resnet18, width: 0.0625, stem: .cifar, inputChannels: 3, imageSize: 16,
                              mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25])
        return PretrainConfig(data: data, format: format, model: model,
                              augmentation: SimCLRAugmentation(size: 16, normalization: model.normalization),
                              batchSize: batch, epochs: 2, steps: steps, temperature: 0.5, projectionHidden: 16,
                              projectionDimension: 8, projectionLayers: 2, projectionBatchNorm: true,
                              optimizer: optimizer, lr: lr, weightDecay: 1e-6, warmupEpochs: 0.1, microBatch: microBatch,
                              bn: .sync, seed: 3, checkpointEvery: 0, knnEvery: 0, knnData: nil, out: out.path)
    }

    func run(_ config: PretrainConfig, resume: Bool = false, stop: StopSignal? = nil) throws -> PretrainSummary {
        try Pretrainer(config: config, communicator: SingleProcessCommunicator(), resume: resume,
                       settings: RunSettings(threads: 2, workers: 1), stop: stop, log: { _ in }).run()
    }

    func encoderTensors(_ run: URL) throws -> [String: [Float]] {
        let file = try SafeTensors(contentsOf: run.appendingPathComponent("encoder.safetensors"))
        var out: [String: [Float]] = [:]
        for name in file.names where !name.hasSuffix("num_batches_tracked") { out[name] = try file.floats(name) }
        return out
    }

    func testResumeContinuesTheSameTrajectory() throws {
        let straight = folder.appendingPathComponent("straight"), split = folder.appendingPathComponent("split")
        let a = try run(Self.config(out: straight, steps: 4))
        // Interrupted twice: 2 + 1 + 1 steps.
        let b1 = try run(Self.config(out: split, steps: 2))
        let b2 = try run(Self.config(out: split, steps: 3), resume: true)
        let b3 = try run(Self.config(out: split, steps: 4), resume: true)
        XCTAssertEqual(a.losses.count, 4)
        XCTAssertEqual(b1.losses + b2.losses + b3.losses, a.losses)
        let wa = try encoderTensors(straight), wb = try encoderTensors(split)
        XCTAssertEqual(Set(wa.keys), Set(wb.keys))
        for (name, values) in wa { XCTAssertEqual(values, wb[name], name) }
        // The metrics of the resumed run continue the first part's.
        let lines = try String(contentsOf: split.appendingPathComponent("metrics.jsonl"), encoding: .utf8)
            .split(separator: "\n")
        XCTAssertEqual(lines.count, 4)
    }

    func testASecondRunInTheSameFolderIsRefusedAndResumeChecksSettings() throws {
        let out = folder.appendingPathComponent("run")
        _ = try run(Self.config(out: out, steps: 1))
        XCTAssertThrowsError(try run(Self.config(out: out, steps: 2))) { error in
            XCTAssertTrue("\(error)".contains("already holds a run"), "\(error)")
        }
        var other = Self.config(out: out, steps: 2)
        other.batchSize = 4
        XCTAssertThrowsError(try run(other, resume: true)) { error in
            XCTAssertTrue("\(error)".contains("batchSize"), "\(error)")
        }
        XCTAssertThrowsError(try run(Self.config(out: folder.appendingPathComponent("none"), steps: 1), resume: true)) {
            XCTAssertTrue("\($0)".contains("no checkpoints/last.safetensors"), "\($0)")
        }
    }

    /// A run folder belongs to one job at a time: a second job, even a resume, is refused with the
    /// holder's host and process, and writes nothing.
    func testASecondJobOnAHeldFolderIsRefused() throws {
        let out = folder.appendingPathComponent("held")
        _ = try run(Self.config(out: out, steps: 2))
        let metrics = try Data(contentsOf: out.appendingPathComponent("metrics.jsonl"))
        let holder = try RunFolderLock(folder: out, path: out.path)
        XCTAssertTrue(RunFolderLock.isHeld(folder: out))
        XCTAssertThrowsError(try run(Self.config(out: out, steps: 4), resume: true)) {
            XCTAssertTrue("\($0)".contains("in use by another job"), "\($0)")
            XCTAssertTrue("\($0)".contains("pid \(getpid())"), "\($0)")
        }
        XCTAssertEqual(try Data(contentsOf: out.appendingPathComponent("metrics.jsonl")), metrics)
        holder.release()
        XCTAssertFalse(RunFolderLock.isHeld(folder: out))
        XCTAssertEqual(try run(Self.config(out: out, steps: 4), resume: true).steps, 4)
    }

    /// After an unclean stop the log runs past the checkpoint (and may end in half a line): the
    /// resumed run drops those lines first, so its log is that of a run that never stopped.
    func testResumeAfterAnUncleanStopLogsEachStepOnce() throws {
        let straight = folder.appendingPathComponent("straight"), killed = folder.appendingPathComponent("killed")
        let a = try run(Self.config(out: straight, steps: 4))
        _ = try run(Self.config(out: killed, steps: 2))
        let metrics = killed.appendingPathComponent("metrics.jsonl")
        let handle = try FileHandle(forWritingTo: metrics)
        handle.seekToEndOfFile()
        handle.write(Data("{\"step\": 3, \"loss\": 9}\n{\"step\": 4, \"loss\": 9}\n{\"step\": 5, \"lo".utf8))
        try handle.close()
        let b = try run(Self.config(out: killed, steps: 4), resume: true)
        XCTAssertEqual(b.losses, Array(a.losses.suffix(2)))
        func logged(_ run: URL) throws -> [(Int, Double)] {
            try String(contentsOf: run.appendingPathComponent("metrics.jsonl"), encoding: .utf8)
                .split(separator: "\n").map { line in
                    let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
                    return (try XCTUnwrap(object["step"] as? Int), try XCTUnwrap(object["loss"] as? Double))
                }
        }
        let expected = try logged(straight), found = try logged(killed)
        XCTAssertEqual(found.map(\.0), [1, 2, 3, 4])
        XCTAssertEqual(found.map(\.1), expected.map(\.1))
    }

    /// Any of a run's files makes a folder a run: without its config.json it is still refused.
    func testAFolderWithAnyRunFileIsNotOverwritten() throws {
        let out = folder.appendingPathComponent("no-config")
        _ = try run(Self.config(out: out, steps: 1))
        try FileManager.default.removeItem(at: out.appendingPathComponent("config.json"))
        let checkpoint = try Data(contentsOf: out.appendingPathComponent("checkpoints/last.safetensors"))
        XCTAssertThrowsError(try run(Self.config(out: out, steps: 1))) {
            XCTAssertTrue("\($0)".contains("already holds a run"), "\($0)")
        }
        XCTAssertEqual(try Data(contentsOf: out.appendingPathComponent("checkpoints/last.safetensors")), checkpoint)
    }

    /// A new run that fails before its first checkpoint leaves no folder behind, so the same
    /// command can be run again as it is.
    func testARunThatFailsBeforeItsFirstCheckpointLeavesNothing() throws {
        let out = folder.appendingPathComponent("diverged")
        let config = Self.config(out: out, steps: 2, optimizer: .sgd, lr: 1e30)
        XCTAssertThrowsError(try run(config)) { XCTAssertTrue("\($0)".contains("the loss became"), "\($0)") }
        XCTAssertFalse(FileManager.default.fileExists(atPath: out.path))
        XCTAssertThrowsError(try run(config)) { XCTAssertTrue("\($0)".contains("the loss became"), "\($0)") }
        // A folder the user made is kept, emptied of what the run wrote.
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        XCTAssertThrowsError(try run(config))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: out.path), [])
        XCTAssertThrowsError(try run(config, resume: true)) {
            XCTAssertTrue("\($0)".contains("stopped before its first checkpoint"), "\($0)")
        }
    }

    /// A k-NN monitor that cannot run is refused before the first step, not after an epoch.
    func testABadKNNMonitorDatasetIsRefusedBeforeAnyStep() throws {
        let out = folder.appendingPathComponent("knn")
        var config = Self.config(out: out, steps: 2)
        config.knnEvery = 1
        config.knnData = folder.appendingPathComponent("missing").path
        XCTAssertThrowsError(try run(config)) {
            XCTAssertTrue("\($0)".contains("--knn-data"), "\($0)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: out.path))
    }

    /// `--out` naming a file, or a place that cannot be written, is one line naming --out.
    func testAnOutThatIsAFileOrUnwritableIsOneLine() throws {
        let file = folder.appendingPathComponent("a-file")
        try Data("x".utf8).write(to: file)
        XCTAssertThrowsError(try run(Self.config(out: file, steps: 1))) {
            XCTAssertEqual("\($0)", "--out \(file.path) is a file, not a folder")
        }
        XCTAssertThrowsError(try run(Self.config(out: file.appendingPathComponent("run"), steps: 1))) {
            XCTAssertTrue("\($0)".hasPrefix("cannot create --out"), "\($0)")
        }
    }

    func testNegativeNumbersAfterAnOptionReachItsCheck() {
        XCTAssertEqual(joiningNegativeValues(["pretrain", "--batch-size", "-4", "--lr", "-1e-3", "--resume", "--out", "x"]),
                       ["pretrain", "--batch-size=-4", "--lr=-1e-3", "--resume", "--out", "x"])
        XCTAssertEqual(joiningNegativeValues(["--out", "-", "--steps", "-x"]), ["--out", "-", "--steps", "-x"])
        XCTAssertThrowsError(try PretrainOptions.parse(joiningNegativeValues(["--batch-size", "-4"]))) {
            XCTAssertTrue(PretrainOptions.message(for: $0).contains("--batch-size must be positive"),
                          PretrainOptions.message(for: $0))
        }
    }

    func testARunFolderFromAnotherVersionGetsAClearMessage() throws {
        let out = folder.appendingPathComponent("old")
        _ = try run(Self.config(out: out, steps: 1))
        let url = out.appendingPathComponent("checkpoints/last.safetensors")
        var file = try SafeTensors(contentsOf: url)
        file.metadata["simclr.config"] = #"{"version": 0, "batch": 8}"#
        try file.write(to: url)
        XCTAssertThrowsError(try run(Self.config(out: out, steps: 2), resume: true)) {
            XCTAssertTrue("\($0)".contains("written by another version of this tool"), "\($0)")
        }
        try Data("not a checkpoint".utf8).write(to: url)
        XCTAssertThrowsError(try run(Self.config(out: out, steps: 2), resume: true)) {
            XCTAssertTrue("\($0)".contains("cannot resume from"), "\($0)")
        }
    }

    func testAFullDiskKeepsThePreviousCheckpoint() throws {
        guard getuid() == 0 else {
            print("full-disk test skipped: mounting a small tmpfs needs root")
            throw XCTSkip("mounting a small tmpfs needs root")
        }
        let mount = folder.appendingPathComponent("small-disk")
        try FileManager.default.createDirectory(at: mount, withIntermediateDirectories: true)
        let mounted = try ChildProcess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", mount.path],
                                           environment: BuiltProduct.plainEnvironment(), timeout: 20)
        guard mounted.status == 0 else {
            print("full-disk test skipped: cannot mount a tmpfs here: \(mounted.output)")
            throw XCTSkip("cannot mount a tmpfs: \(mounted.output)")
        }
        defer { _ = try? ChildProcess.run(["umount", mount.path], environment: BuiltProduct.plainEnvironment(), timeout: 20) }
        let out = mount.appendingPathComponent("run")
        _ = try run(Self.config(out: out, steps: 1))
        let checkpoint = out.appendingPathComponent("checkpoints/last.safetensors")
        let before = try Data(contentsOf: checkpoint)
        // Fill what is left of the disk, then ask for another step and its checkpoint.
        let filler = mount.appendingPathComponent("filler")
        _ = try ChildProcess.run(["dd", "if=/dev/zero", "of=\(filler.path)", "bs=64k"],
                                 environment: BuiltProduct.plainEnvironment(), timeout: 20)
        XCTAssertThrowsError(try run(Self.config(out: out, steps: 2), resume: true)) {
            XCTAssertTrue("\($0)".contains("could not write checkpoint") || "\($0)".contains("No space left"), "\($0)")
        }
        XCTAssertEqual(try Data(contentsOf: checkpoint), before)
        try FileManager.default.removeItem(at: filler)
        XCTAssertEqual(try run(Self.config(out: out, steps: 2), resume: true).steps, 2)
    }

    func testSigtermFinishesTheStepAndWritesACheckpoint() throws {
        let out = folder.appendingPathComponent("signal")
        let stop = StopSignal()
        kill(getpid(), SIGTERM)
        let deadline = Date().addingTimeInterval(5)
        while stop.signalName == nil && Date() < deadline { usleep(10_000) }
        XCTAssertEqual(stop.signalName, "SIGTERM")
        XCTAssertThrowsError(try run(Self.config(out: out, steps: 5), stop: stop)) { error in
            XCTAssertTrue("\(error)".contains("stopped by SIGTERM"), "\(error)")
        }
        let checkpoint = try SafeTensors(contentsOf: out.appendingPathComponent("checkpoints/last.safetensors"))
        XCTAssertEqual(checkpoint.metadata["simclr.step"], "1")
        let resumed = try run(Self.config(out: out, steps: 2), resume: true)
        XCTAssertEqual(resumed.steps, 2)
    }

    func testANonFiniteLossStopsTheRunAndKeepsTheLastCheckpoint() throws {
        // A learning rate of 1e30 overflows the weights after the first step; the next loss is not finite.
        let out = folder.appendingPathComponent("nan")
        var config = Self.config(out: out, steps: 6, optimizer: .sgd, lr: 1e30)
        config.checkpointEvery = 1
        XCTAssertThrowsError(try run(config)) { error in
            XCTAssertTrue("\(error)".contains("the loss became"), "\(error)")
        }
        let checkpoint = try SafeTensors(contentsOf: out.appendingPathComponent("checkpoints/last.safetensors"))
        let step = try XCTUnwrap(Int(checkpoint.metadata["simclr.step"] ?? ""))
        XCTAssertGreaterThanOrEqual(step, 1)
        XCTAssertLessThan(step, 6)
        // Every step whose loss was finite was checkpointed; the failing one was not.
        let losses = try String(contentsOf: out.appendingPathComponent("metrics.jsonl"), encoding: .utf8)
            .split(separator: "\n")
        XCTAssertEqual(losses.count, step)
    }

    func testUnreadableImagesAreSkippedAndCounted() throws {
        let data = folder.appendingPathComponent("images")
        var good = 0
        for k in 0..<12 {
            let dir = data.appendingPathComponent(k % 2 == 0 ? "cats" : "dogs")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            let image = try SyntheticDataset(count: 12, classes: 2, size: 20, seed: 1).image(at: k)
            try Data(JPEGDecoder.encode(image)).write(to: dir.appendingPathComponent("\(k).jpg"))
            good += 1
        }
        try Data("not a jpeg".utf8).write(to: data.appendingPathComponent("cats/bad.jpg"))
        try Data().write(to: data.appendingPathComponent("dogs/empty.jpg"))
        // Its header reads, so only the loader finds it unreadable, in every epoch that draws it.
        let whole = try Data(JPEGDecoder.encode(try SyntheticDataset(count: 1, classes: 1, size: 20, seed: 3).image(at: 0)))
        try whole.prefix(whole.count - 12).write(to: data.appendingPathComponent("dogs/truncated.jpg"))
        // 13 readable headers, 12 a step: one step an epoch, two epochs.
        let summary = try run(Self.config(out: folder.appendingPathComponent("run"), steps: 2, data: data.path,
                                          format: .imageFolder, batch: 12))
        XCTAssertEqual(summary.skippedImages, 3, "each unreadable file counted once per run")
        XCTAssertEqual(summary.steps, 2)
    }

    /// An ImageFolder with train/ and test/ splits of two easily told apart classes.
    func writeImageFolder(perClass: Int) throws -> URL {
        let data = folder.appendingPathComponent("split-images")
        let synthetic = SyntheticDataset(count: 4 * perClass, classes: 2, size: 20, seed: 2)
        for k in 0..<(4 * perClass) {
            let split = k < 2 * perClass ? "train" : "test"
            let dir = data.appendingPathComponent("\(split)/class\(synthetic.label(at: k))")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            try Data(JPEGDecoder.encode(try synthetic.image(at: k))).write(to: dir.appendingPathComponent("\(k).jpg"))
        }
        return data
    }

    func testTheKNNMonitorIsLoggedEveryEpoch() throws {
        let data = try writeImageFolder(perClass: 8)
        let out = folder.appendingPathComponent("knn")
        var config = Self.config(out: out, steps: nil, data: data.path, format: .imageFolder)
        config.knnEvery = 1
        let summary = try run(config)
        XCTAssertEqual(summary.steps, 4)   // 16 training images, batches of 8, 2 epochs
        let lines = try String(contentsOf: out.appendingPathComponent("metrics.jsonl"), encoding: .utf8)
            .split(separator: "\n").map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        let knn = lines.compactMap { $0["knn_top1"] as? Double }
        XCTAssertEqual(knn.count, 2)
        XCTAssertTrue(knn.allSatisfy { (0...1).contains($0) })
        XCTAssertEqual(knn.last, summary.lastKNNAccuracy)
        XCTAssertEqual(lines.compactMap { $0["epoch"] as? Int }.last, 2)
    }

    func testEncoderFileHasTorchvisionNamesAndTheModelInItsMetadata() throws {
        let out = folder.appendingPathComponent("run")
        _ = try run(Self.config(out: out, steps: 1))
        let file = try SafeTensors(contentsOf: out.appendingPathComponent("encoder.safetensors"))
        XCTAssertTrue(file.names.contains("conv1.weight"))
        XCTAssertTrue(file.names.contains("layer4.1.bn2.running_var"))
        XCTAssertFalse(file.names.contains { $0.hasPrefix("projection_head") || $0.hasPrefix("fc.") })
        XCTAssertEqual(file.info("conv1.weight")?.shape, [4, 3, 3, 3])   // torchvision's [Cout, Cin, kh, kw]
        let model = try JSONDecoder().decode(ModelSpec.self, from: Data(file.metadata["simclr.model"]!.utf8))
        XCTAssertEqual(model.imageSize, 16)
        XCTAssertEqual(model.mean, [0.5, 0.5, 0.5])
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("config.json")))
        XCTAssertEqual((config as? [String: Any])?["batchSize"] as? Int, 8)
    }

    func testMicroBatchesGiveTheLossOfTheirChunksAndKeepRunningStatisticsUpdatedOnce() throws {
        // One chunk of the whole local batch: the two-pass machinery (projections first, running
        // statistics restored, recomputation with backward) must reproduce the plain step exactly.
        let plain = try run(Self.config(out: folder.appendingPathComponent("plain"), steps: 2))
        let cached = try run(Self.config(out: folder.appendingPathComponent("cached"), steps: 2, microBatch: 8))
        XCTAssertEqual(plain.losses, cached.losses)
        let wp = try encoderTensors(folder.appendingPathComponent("plain"))
        let wc = try encoderTensors(folder.appendingPathComponent("cached"))
        for (name, values) in wp { XCTAssertEqual(values, wc[name], name) }
        // Chunks of 2 images: each chunk's recomputation updates the running statistics once
        // (4 chunks a step, 2 steps), the first pass not at all.
        _ = try run(Self.config(out: folder.appendingPathComponent("small"), steps: 2, microBatch: 2))
        for (name, expected) in [("plain", 2), ("small", 8)] {
            let file = try SafeTensors(contentsOf: folder.appendingPathComponent("\(name)/encoder.safetensors"))
            XCTAssertEqual(try file.int64s("bn1.num_batches_tracked"), [Int64(expected)], name)
        }
    }
}
