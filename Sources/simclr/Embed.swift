import ArgumentParser
import Foundation
import Images
import Tensors
import Training

struct Embed: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write the encoder's pooled features of every image of a split to a NumPy .npy file.",
        discussion: """
        F.npy holds float32 [N, D], row i for image i in the dataset's order. Beside it: F.paths.txt \
        (path<TAB>label<TAB>class per row; -1 and an empty class when unlabelled; tab, newline and \
        backslash inside a field escaped as \\t, \\n, \\\\), F.labels.txt (one integer label per row) and \
        F.classes.txt (the class names, one per line, in label order). Saved as RUN/embeddings.npy, they \
        appear on the run's summary page (simclr report RUN).
        """)

    @OptionGroup var encoderOptions: EncoderOptions
    @OptionGroup var dataOptions: DataOptions

    @Option(help: "train or test.")
    var split: DatasetSplit = .train
    @Option(help: "The .npy file to write (sidecars go beside it).")
    var out: String
    @Option(help: "Also draw the first two principal components, coloured by class, into this SVG.")
    var plot: String?
    @Option(help: "Images per forward pass.")
    var batchSize = 64

    @OptionGroup var runtime: RuntimeOptions

    func validate() throws {
        guard out.hasSuffix(".npy") else { throw ValidationError("--out must name a .npy file") }
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1") }
    }

    func run() throws {
        try runJob { comm in
            // Under mpirun the ranks share the forward passes; rank 0 alone prints and writes.
            let log: (String) -> Void = comm.rank == 0 ? { writeError($0 + "\n") } : { _ in }
            Threads.configure(runtime.compute.resolvedThreads)
            let encoder = try encoderOptions.open(seed: runtime.seed, log: log)
            let dataset = try openDataset(path: dataOptions.data, format: dataOptions.format, split: split,
                                          options: encoder.datasetOptions)
            log("embedding \(dataset.count) images of \(dataset.name)")
            let (features, labels) = try encoder.features(of: dataset, batchSize: batchSize, workers: runtime.compute.workers,
                                                          communicator: comm)
            guard comm.rank == 0 else { return }
            let files = try EmbeddingExport.write(features: features, labels: labels, dataset: dataset,
                                                  to: URL(fileURLWithPath: out))
            print("\(files.npy.path): \(features.shape[0]) x \(features.shape[1]) float32")
            print("\(files.paths.path), \(files.labels.path), \(files.classes.path)")
            if let plot {
                let name = URL(fileURLWithPath: encoderOptions.weights).lastPathComponent
                let scatter = EmbeddingExport.scatterPlot(
                    features: features, labels: labels, classNames: dataset.classNames,
                    title: "PCA of \(features.shape[0]) embeddings (\(name), \(split.rawValue) split)")
                do {
                    try Data(scatter.svg().utf8).write(to: URL(fileURLWithPath: plot), options: .atomic)
                } catch {
                    throw TrainingError.io("cannot write \(plot): \(error.localizedDescription)")
                }
                print(plot)
            }
        }
    }
}
