import ArgumentParser
import Images
import Training

struct Finetune: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "finetune",
        abstract: "Train a classifier on labelled data: fine-tune an encoder (full) or fit a head on a frozen one (linear).",
        discussion: """
        The validation split (--val-fraction of every class of the training data) drives the learning-rate \
        scheduler and picks the best checkpoint; the test split (the data's own, --test-data, or a held-out \
        --test-fraction when there is none) is used once, at the end, with that checkpoint. Input size and \
        normalisation come from the weights' metadata unless --image-size / --normalize are given. \
        Under mpirun every rank takes an equal share of each batch (linear mode without augmentation computes \
        the features across ranks and then trains the head on every rank alike).
        """)

    @OptionGroup var dataOptions: DataOptions
    @OptionGroup var options: FinetuneOptions
    @OptionGroup var runtime: RuntimeOptions

    func run() throws {
        try runJob { comm in
            let (model, source, messages) = try options.model.request.resolve(weights: options.weights, data: dataOptions.data,
                                                                              format: dataOptions.format)
            if comm.rank == 0 { for line in messages { writeError(line + "\n") } }
            let config = options.config(data: dataOptions, model: model, modelSource: source, seed: runtime.seed)
            if options.start.dryRun { return try printPlan(config, memory: config.memoryEstimate(ranks: comm.size), comm) }
            let summary = try FineTuner(config: config, communicator: comm, resume: options.start.resume,
                                        settings: runtime.settings, stop: StopSignal()).run()
            if comm.rank == 0 {
                print(summary.test.report.text(digits: ClassifierResult.digits), terminator: "")
                print(String(format: "test accuracy %.4f  top-5 %.4f  mean per-class %.4f  (best epoch %d, validation accuracy %.4f)",
                             summary.test.accuracy, summary.test.top5Accuracy, summary.test.meanPerClassAccuracy,
                             summary.bestEpoch, summary.bestValAccuracy))
                if summary.skippedImages > 0 { writeError("simclr: \(summary.skippedImages) unreadable image(s) skipped\n") }
            }
        }
    }
}
