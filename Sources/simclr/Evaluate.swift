import ArgumentParser
import Foundation
import Formats
import Images
import Tensors
import Training

struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Rebuild a classifier saved by finetune and report how it does on a labelled split (evaluation mode).")

    @Option(help: "A classifier: checkpoints/best.safetensors (or last.safetensors) of a finetune run.")
    var weights: String

    @OptionGroup var dataOptions: DataOptions

    @Option(help: "test or train.")
    var split = "test"

    @Option(help: "Write report.txt, report.json, confusion.csv, confusion.svg and summary.json into this folder.")
    var out: String?

    @Option(help: "Images per forward pass over all ranks.")
    var batchSize = 64

    @Option(help: "Compute threads of each rank; default: this machine's cores shared among the ranks on it.")
    var threads: Int?

    @Option(help: "Data-loading threads of each rank.")
    var workers = 1

    func validate() throws {
        guard DatasetSplit(rawValue: split) != nil else { throw ValidationError("--split takes test or train, not '\(split)'") }
        guard FileManager.default.fileExists(atPath: weights) else { throw ValidationError("--weights \(weights) does not exist") }
        guard batchSize > 0 else { throw ValidationError("--batch-size must be positive") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        guard workers >= 0 else { throw ValidationError("--workers must not be negative") }
    }

    func run() throws {
        try runJob { comm in
            Threads.configure(computeThreads(threads))
            let log: (String) -> Void = comm.rank == 0 ? { writeError($0 + "\n") } : { _ in }
            let (_, result) = try ClassifierEvaluator.evaluate(
                weights: weights, data: dataOptions.data, format: dataOptions.datasetFormat,
                split: DatasetSplit(rawValue: split) ?? .test, batchSize: batchSize, workers: workers,
                communicator: comm, log: log)
            guard comm.rank == 0 else { return }
            print(result.report.text(digits: ClassifierResult.digits), terminator: "")
            print(String(format: "accuracy %.4f  top-5 %.4f  mean per-class %.4f  loss %.4f",
                         result.accuracy, result.top5Accuracy, result.meanPerClassAccuracy, result.loss))
            if let out {
                let directory = URL(fileURLWithPath: out)
                try result.write(to: directory)
                var fields = result.summary(prefix: "")
                fields["weights"] = URL(fileURLWithPath: weights).standardizedFileURL.path
                fields["split"] = split
                let json = try JSONSerialization.data(withJSONObject: fields, options: [.prettyPrinted, .sortedKeys])
                try AtomicFile.write(json, to: directory.appendingPathComponent("summary.json"))
                log("report written to \(directory.appendingPathComponent("report.txt").path)")
            }
        }
    }
}
