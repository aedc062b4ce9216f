import ArgumentParser
import Images
import Training

struct Pretrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Learn an encoder without labels (SimCLR), on this machine or across MPI ranks.",
        discussion: """
        Started directly, runs as one process. Started by mpirun (./launch pretrain ...), every rank takes \
        an equal share of the global batch and the projections are gathered so the loss sees all of them.
        """)

    @OptionGroup var dataOptions: DataOptions
    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var options: PretrainOptions
    @OptionGroup var runtime: RuntimeOptions

    func run() throws {
        try runJob { comm in
            // Only to resolve the model: the Pretrainer opens the data again and validates every file then.
            let dataset = try openDataset(path: dataOptions.data, format: dataOptions.format, split: .train,
                                          options: DatasetOptions(validation: .none), skipLog: SkipLog(printLimit: 0))
            let model = try modelOptions.request.resolve(for: dataset)
            let config = options.config(data: dataOptions, model: model, seed: runtime.seed)
            if options.start.dryRun { return try printPlan(config, memory: config.memoryEstimate(ranks: comm.size), comm) }
            let summary = try Pretrainer(config: config, communicator: comm, resume: options.start.resume,
                                         settings: runtime.settings, stop: StopSignal()).run()
            if comm.rank == 0, summary.skippedImages > 0 {
                writeError("simclr: \(summary.skippedImages) unreadable image(s) skipped\n")
            }
        }
    }
}
