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
    var split: DatasetSplit = .test

    @Option(help: "Write report.txt, report.json, confusion.csv, confusion.svg and summary.json into this folder.")
    var out: String?

    @Option(help: "Images per forward pass over all ranks.")
    var batchSize = 64

    @OptionGroup var compute: ComputeOptions

    func validate() throws {
        guard FileManager.default.fileExists(atPath: weights) else { throw ValidationError("--weights \(weights) does not exist") }
        guard batchSize > 0 else { throw ValidationError("--batch-size must be positive") }
    }

    func run() throws {
        try runJob { comm in
            Threads.configure(compute.resolvedThreads)
            let log: (String) -> Void = comm.rank == 0 ? { writeError($0 + "\n") } : { _ in }
            let (_, result) = try ClassifierEvaluator.evaluate(
                weights: weights, data: dataOptions.data, format: dataOptions.format,
                split: split, batchSize: batchSize, workers: compute.workers,
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
                fields["split"] = split.rawValue
                let json = try JSONSerialization.data(withJSONObject: fields, options: [.prettyPrinted, .sortedKeys])
                try AtomicFile.write(json, to: directory.appendingPathComponent("summary.json"))
                log("report written to \(directory.appendingPathComponent("report.txt").path)")
            }
        }
    }
}
