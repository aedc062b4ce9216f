import ArgumentParser
import Foundation
import Tensors
import Training

struct SimCLR: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simclr",
        abstract: "Self-supervised image embeddings (SimCLR) on CPUs, on one machine or many.",
        subcommands: [Pretrain.self, Finetune.self, Evaluate.self, KNN.self, Embed.self, Sweep.self, Demo.self, Report.self, Bench.self])
}

@main
enum Entry {
    static func main() {
        BLASKernel.restartWithBetterKernelsIfNeeded()
        let arguments = joiningNegativeValues(Array(CommandLine.arguments.dropFirst()))
        // Under mpirun every rank parses the same command line: rank 0 alone reports a bad one.
        if let rank = ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_RANK"], rank != "0" {
            do {
                var command = try SimCLR.parseAsRoot(arguments)
                try command.run()
            } catch {
                if error is ExitCode { SimCLR.exit(withError: error) }
                exit(SimCLR.exitCode(for: error).rawValue)
            }
            return
        }
        SimCLR.main(arguments)
    }
}
