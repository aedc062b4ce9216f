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
        guard temperature > 0 else { throw ValidationError("--temperature must be positive") }
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1") }
    }

    func run() throws {
        try runJob { _ in
            Threads.configure(runtime.resolvedThreads)
            let encoder = try encoderOptions.open(seed: runtime.seed)
            let options = encoder.datasetOptions
            let memory = try openDataset(path: dataOptions.data, format: dataOptions.datasetFormat, split: .train,
                                         options: options)
            let queries = try openDataset(path: dataOptions.data, format: dataOptions.datasetFormat, split: .test,
                                          options: options)
            writeError("k-NN (k \(k), temperature \(temperature)): \(memory.count) memory images of \(memory.name), "
                       + "\(queries.count) queries of \(queries.name)\n")
            let result = try KNNEvaluation.run(encoder: encoder, memory: memory, queries: queries, k: k,
                                               temperature: temperature, batchSize: batchSize, workers: runtime.workers)
            print(String(format: "top-1 %.4f", result.top1))
            print(String(format: "top-5 %.4f", result.top5))
            if let out {
                let settings: [String: Any] = [
                    "weights": URL(fileURLWithPath: encoderOptions.weights).standardizedFileURL.path,
                    "data": dataOptions.data.map { URL(fileURLWithPath: $0).standardizedFileURL.path } ?? NSNull(),
                    "format": dataOptions.format, "model": try encoder.spec.jsonObject(), "seed": runtime.seed,
                ]
                try result.write(to: URL(fileURLWithPath: out), settings: settings)
                writeError("results written to \(out)\n")
            }
        }
    }
}

/// The weights of a frozen encoder, and what to assume about a file that does not describe its
/// network (`simclr knn`, `simclr embed`).
struct EncoderOptions: ParsableArguments {
    @Option(help: "Encoder weights (safetensors, torchvision names; prefixes such as module. or backbone. are stripped, a classifier fc is ignored).")
    var weights: String

    @Option(help: "For files without metadata: the input side (default 224 for the ImageNet stem, 32 for the CIFAR stem). For ours: overrides the training size.")
    var imageSize: Int?

    @Option(help: "none, imagenet or MEAN/STD. Required for files without metadata; for ours, overrides the training normalisation.")
    var normalize: String?

    @Option(help: "resnet18, resnet34 or resnet50; read from the weights, so only a check.")
    var arch: String?

    @Option(help: "Width multiplier; read from the weights, so only a check.")
    var width: Double?

    @Option(help: "imagenet or cifar; read from the weights, so only a check.")
    var stem: String?

    func validate() throws {
        try validateModelOptions(arch: arch, width: width, stem: stem, imageSize: imageSize)
    }

    /// Builds the encoder and prints what happened to the file's names.
    func open(seed: UInt64) throws -> EmbeddingEncoder {
        let request = ModelRequest(arch: arch, width: width, stem: stem, imageSize: imageSize, normalize: normalize)
        let encoder = try EmbeddingEncoder(weights: weights, request: request, seed: seed)
        for line in encoder.messages { writeError(line + "\n") }
        writeError("encoder: \(encoder.summary)\n")
        return encoder
    }
}

extension ModelSpec {
    /// The spec as a JSON object, for a config.json.
    func jsonObject() throws -> Any {
        try JSONSerialization.jsonObject(with: JSONEncoder().encode(self))
    }
}
