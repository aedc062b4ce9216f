import ArgumentParser
import Tensors

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
        SimCLR.main()
    }
}
