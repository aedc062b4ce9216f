import ArgumentParser

@main
struct SimCLR: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simclr",
        abstract: "Self-supervised image embeddings (SimCLR) on CPUs, on one machine or many.",
        subcommands: [Pretrain.self, Finetune.self, Evaluate.self, Report.self, Bench.self])
}
