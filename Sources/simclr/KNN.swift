import ArgumentParser
import Foundation
import Images
import Tensors
import Training

struct KNN: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "knn",
        abstract: "Weighted k-NN accuracy of a frozen encoder: the train split as memory, the test split as queries.",
        discussion: """
        Features are the encoder's pooled outputs in evaluation mode, compared by cosine similarity; each \
        query's k nearest memory images vote with weight exp(similarity / temperature). The input pipeline \
        (image size, normalisation) comes from the weights' metadata; a torchvision-named file from \
        elsewhere needs --normalize (and --image-size unless 224 suits it).
        """)

    @OptionGroup var encoderOptions: EncoderOptions
    @OptionGroup var dataOptions: DataOptions

    @Option(help: "Neighbours per query.")
    var k = 20
    @Option(help: "Temperature of the vote weights exp(similarity / temperature).")
    var temperature: Float = 0.07
    @Option(help: "Images per forward pass.")
    var batchSize = 64
    @Option(help: "Also write report.txt, report.json, confusion.csv, summary.json and config.json here.")
    var out: String?

    @OptionGroup var runtime: RuntimeOptions

    func validate() throws {
        guard k >= 1 else { throw ValidationError("--k must be at least 1") }
        guard temperature.isFinite, temperature > 0 else { throw ValidationError("--temperature must be a positive number") }
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1") }
    }

    func run() throws {
        try runJob { comm in
            // Under mpirun the ranks share the forward passes; rank 0 alone prints and writes.
            let log: (String) -> Void = comm.rank == 0 ? { writeError($0 + "\n") } : { _ in }
            Threads.configure(runtime.compute.resolvedThreads)
            let encoder = try encoderOptions.open(seed: runtime.seed, log: log)
            let options = encoder.datasetOptions
            let memory = try openDataset(path: dataOptions.data, format: dataOptions.format, split: .train,
                                         options: options)
            let queries = try openDataset(path: dataOptions.data, format: dataOptions.format, split: .test,
                                          options: options)
            log("k-NN (k \(k), temperature \(temperature)): \(memory.count) memory images of \(memory.name), "
                + "\(queries.count) queries of \(queries.name)")
            let result = try KNNEvaluation.run(encoder: encoder, memory: memory, queries: queries, k: k,
                                               temperature: temperature, batchSize: batchSize,
                                               workers: runtime.compute.workers, communicator: comm)
            guard comm.rank == 0 else { return }
            print(String(format: "top-1 %.4f", result.top1))
            print(String(format: "top-5 %.4f", result.top5))
            if let out {
                let settings: [String: Any] = [
                    "weights": URL(fileURLWithPath: encoderOptions.weights).standardizedFileURL.path,
                    "data": dataOptions.absolutePath ?? NSNull(),
                    "format": dataOptions.format.rawValue, "model": try encoder.spec.jsonObject(), "seed": runtime.seed,
                ]
                try result.write(to: URL(fileURLWithPath: out), settings: settings)
                writeError("results written to \(out)\n")
            }
        }
    }
}

extension ModelSpec {
    /// The spec as a JSON object, for a config.json.
    func jsonObject() throws -> Any {
        try JSONSerialization.jsonObject(with: JSONEncoder().encode(self))
    }
}
