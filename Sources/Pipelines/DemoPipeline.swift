import Foundation
import Images
import Spawn
import Training

/// `simclr demo`: the whole idea on real images in one command. SimCLR pretraining on the unlabelled
/// training images, then linear evaluation, k-NN and a 1%-labels fine-tune, beside the baselines a
/// skeptic asks for (logistic regression on raw pixels, the same encoder randomly initialised and
/// frozen, the same encoder trained from scratch on the same labels). Each stage is a run folder of
/// its own under `out`, made by this same program as a child process; a stage whose results exist is
/// not run again, and an interrupted pretraining resumes, so running the demo again continues it.
public struct DemoPipeline {
    public struct Row: Codable {
        public var method: String
        public var labels: String
        public var testAccuracy: Double?
        public var folder: String
    }

    public var binary: String
    public var data: String?
    public var out: URL
    public var width: Double
    public var batchSize: Int
    public var pretrainEpochs: Int
    public var pretrainSteps: Int?
    public var finetuneEpochs: Int
    /// Label fractions of the fine-tuning stages (SimCLR's 1% and 10% protocol).
    public var labelFractions: [Double]
    public var seed: UInt64
    public var log: (String) -> Void

    public init(binary: String, data: String?, out: URL, width: Double = 0.25, batchSize: Int = 256,
                pretrainEpochs: Int = 1, pretrainSteps: Int? = nil, finetuneEpochs: Int = 20,
                labelFractions: [Double] = [0.01], seed: UInt64 = 0,
                log: @escaping (String) -> Void = { writeError($0 + "\n") }) {
        self.binary = binary; self.data = data; self.out = out; self.width = width; self.batchSize = batchSize
        self.pretrainEpochs = pretrainEpochs; self.pretrainSteps = pretrainSteps; self.finetuneEpochs = finetuneEpochs
        self.labelFractions = labelFractions
        self.seed = seed; self.log = log
    }

    var dataArguments: [String] { data.map { ["--data", $0] } ?? [] }
    var modelArguments: [String] { ["--arch", "resnet18", "--width", String(width), "--stem", "cifar"] }
    var encoder: String { out.appendingPathComponent("pretrain/encoder.safetensors").path }

    /// Runs every stage not yet done and returns the results table.
    public func run() throws -> [Row] {
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        let started = Date()
        try pretrain()
        var rows: [Row] = []
        rows.append(try stage("simclr-linear", method: "SimCLR, frozen encoder, linear (L-BFGS)", labels: "100%",
                              ["finetune", "--mode", "linear", "--weights", encoder, "--optimizer", "lbfgs"]))
        rows.append(try stage("simclr-knn", method: "SimCLR, frozen encoder, weighted k-NN", labels: "100%",
                              ["knn", "--weights", encoder]))
        rows.append(try rawPixels())
        rows.append(try stage("random-linear", method: "random encoder, frozen, linear (L-BFGS)", labels: "100%",
                              ["finetune", "--mode", "linear", "--init", "random", "--optimizer", "lbfgs"] + modelArguments))
        // A small validation split: it is evaluated every epoch, and the labelled set is small anyway.
        // Both arms train with the same optimiser and rate (Adam 1e-3), so only the initialisation
        // differs; fine-tuning the SimCLR encoder at the gentler 1e-4 left it short of converging.
        let finetune = ["--epochs", String(finetuneEpochs), "--val-fraction", "0.02", "--optimizer", "adam", "--lr", "1e-3"]
        for fraction in labelFractions {
            let percent = String(format: "%g%%", 100 * fraction)
            rows.append(try stage("simclr-finetune-\(percent)", method: "SimCLR, fine-tuned", labels: percent,
                                  ["finetune", "--mode", "full", "--weights", encoder,
                                   "--label-fraction", String(fraction)] + finetune))
            rows.append(try stage("supervised-\(percent)", method: "same encoder from scratch, supervised", labels: percent,
                                  ["finetune", "--mode", "full", "--init", "random",
                                   "--label-fraction", String(fraction)] + finetune + modelArguments))
        }
        try write(rows, seconds: Date().timeIntervalSince(started))
        return rows
    }

    func pretrain() throws {
        let folder = out.appendingPathComponent("pretrain")
        var arguments = ["pretrain"] + dataArguments + modelArguments
            + ["--batch-size", String(batchSize), "--epochs", String(pretrainEpochs), "--seed", String(seed),
               "--out", folder.path]
        if let pretrainSteps { arguments += ["--steps", String(pretrainSteps)] }
        let fm = FileManager.default
        if fm.fileExists(atPath: encoder) {
            log("demo: pretraining done (\(folder.path))")
            return
        }
        if fm.fileExists(atPath: folder.appendingPathComponent("checkpoints/last.safetensors").path) {
            log("demo: resuming the pretraining in \(folder.path)")
            arguments.append("--resume")
        } else if fm.fileExists(atPath: folder.path) {
            try fm.removeItem(at: folder)   // started but never checkpointed: start again
        }
        try runChild(arguments)
    }

    func stage(_ name: String, method: String, labels: String, _ arguments: [String]) throws -> Row {
        let folder = out.appendingPathComponent(name)
        let summary = folder.appendingPathComponent("summary.json")
        if !FileManager.default.fileExists(atPath: summary.path) {
            try? FileManager.default.removeItem(at: folder)
            log("demo: \(method), \(labels) of the labels")
            try runChild(arguments + dataArguments + ["--seed", String(seed), "--out", folder.path])
        } else {
            log("demo: \(name) done")
        }
        return Row(method: method, labels: labels, testAccuracy: Self.accuracy(in: summary), folder: folder.path)
    }

    func rawPixels() throws -> Row {
        let folder = out.appendingPathComponent("raw-pixels")
        let summary = folder.appendingPathComponent("summary.json")
        if Self.accuracy(in: summary) == nil {
            log("demo: logistic regression on raw pixels")
            let accuracy = try RawPixelBaseline.accuracy(data: data, format: .auto)
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try JSONSerialization.data(withJSONObject: ["test_accuracy": accuracy], options: [.sortedKeys])
                .write(to: summary, options: .atomic)
        }
        return Row(method: "logistic regression on raw pixels", labels: "100%",
                   testAccuracy: Self.accuracy(in: summary), folder: folder.path)
    }

    /// The test accuracy a stage recorded (`test_accuracy`, or a k-NN `top1`).
    static func accuracy(in summary: URL) -> Double? {
        guard let data = try? Data(contentsOf: summary),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return nil }
        for key in ["test_accuracy", "knn_top1", "top1"] {
            if let value = object[key] as? Double { return value }
        }
        return nil
    }

    /// Runs one stage, its output on the demo's own. A Ctrl-C or SIGTERM reaches the demo only (the
    /// child has a process group of its own) and is passed on as SIGTERM: the child finishes its
    /// step, checkpoints and exits, and the demo waits for that (a minute at most) before it stops.
    func runChild(_ arguments: [String]) throws {
        let stop = StopSignal()
        let child = try SpawnedProcess([binary] + arguments, output: .inherited)
        switch child.wait(grace: 60, stoppingWhen: { stop.signalName != nil }) {
        case .exited(0):
            return
        case .exited(let status) where status != 130:
            throw TrainingError.io("demo: `simclr \(arguments.prefix(3).joined(separator: " ")) ...` failed "
                + "(exit \(status)); fix the cause and run the demo again to continue")
        default:
            throw TrainingError.interrupted(signal: "an interrupt", checkpoint: out.path)
        }
    }

    /// The results as a Markdown table (the demo's printout and `results.md`).
    public static func table(_ rows: [Row]) -> String {
        var lines = ["| method | labels | test accuracy |", "|---|---|---|"]
        for r in rows {
            lines.append("| \(r.method) | \(r.labels) | \(r.testAccuracy.map { String(format: "%.2f%%", 100 * $0) } ?? "-") |")
        }
        return lines.joined(separator: "\n")
    }

    func write(_ rows: [Row], seconds: Double) throws {
        let text = Self.table(rows) + "\n"
        try Data(text.utf8).write(to: out.appendingPathComponent("results.md"), options: .atomic)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(rows).write(to: out.appendingPathComponent("results.json"), options: .atomic)
        log("demo: finished in \(Progress.clock(seconds)); run folders in \(out.path), "
            + "summary page \(out.appendingPathComponent("pretrain/index.html").path)")
    }
}
