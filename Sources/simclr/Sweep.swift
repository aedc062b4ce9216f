import ArgumentParser
import Foundation
import Pipelines
import Training

struct Sweep: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fine-tune every combination of settings and models, then tabulate and chart the test accuracies.",
        discussion: """
        Each cell runs `simclr finetune` in a subprocess into OUT/cells/<model>-<name=value_...>/ (its \
        output in OUT/logs/), with the cell's --NAME VALUE settings, --weights FILE (or --init random) and \
        every option not listed here, e.g.
          simclr sweep --grid 'lr=1e-3,1e-4;mode=full,linear' \\
            --models 'simclr=runs/a/encoder.safetensors,random' --data data/pets --epochs 20 --out runs/sweep
        Run the same command again to continue: finished cells (with a summary.json) are skipped, \
        unfinished ones are run afresh. OUT gets results.csv, results.md and test_accuracy_by_<name>.svg.
        """)

    @Option(help: "Settings to vary: NAME=V1,V2;NAME=V1,... (NAME is a finetune option without its dashes).")
    var grid = ""

    @Option(help: "Encoders, comma-separated: NAME=WEIGHTS.safetensors, or random (--init random).")
    var models: String

    @Option(help: "Sweep folder.")
    var out = "runs/sweep"

    @Option(help: "The fine-tuning command, words split at spaces (default: this simclr binary's finetune; also $SIMCLR_SWEEP_FINETUNE).")
    var finetuneCommand: String?

    @Argument(parsing: .allUnrecognized, help: "Options given to every cell's finetune (--data PATH, --epochs N, ...).")
    var finetuneOptions: [String] = []

    func run() throws {
        try runJob { comm in
            // Each cell is a process of its own; ranks started by mpirun would all run every cell.
            guard comm.size == 1 else {
                throw TrainingError.invalidOption(
                    "sweep runs its cells as processes of their own: start it on one rank (./launch --local sweep ...)")
            }
            let grid = try SweepGrid(grid: self.grid, models: models)
            let given = finetuneCommand ?? ProcessInfo.processInfo.environment["SIMCLR_SWEEP_FINETUNE"]
            let command = given.map { $0.split(separator: " ").map(String.init) }.flatMap { $0.isEmpty ? nil : $0 }
                ?? SweepRunner.selfCommand()
            let runner = SweepRunner(grid: grid, command: command, fixed: finetuneOptions,
                                     out: URL(fileURLWithPath: out))
            let outcome = try runner.run(stop: StopSignal())
            print(outcome.results.markdown(), terminator: "")
            print("results: \(out)/results.csv, \(out)/results.md, charts in \(out)")
            if outcome.interrupted {
                throw TrainingError.invalidOption("stopped by a signal; run the same command again to continue the sweep")
            }
            if !outcome.failed.isEmpty {
                throw TrainingError.io("\(outcome.failed.count) of \(grid.cells.count) cell(s) failed: "
                                       + outcome.failed.joined(separator: ", ")
                                       + " (logs in \(out)/logs; run the same command again to retry them)")
            }
        }
    }
}
