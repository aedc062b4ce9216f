import ArgumentParser
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
        SimCLR.main(joiningNegativeValues(Array(CommandLine.arguments.dropFirst())))
    }
}
