import ArgumentParser

/// `simclr bench ...`: throughput benchmarks (never timed assertions in tests).
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure the speed of the kernels, the training step and the data pipeline.",
        subcommands: [])
}
