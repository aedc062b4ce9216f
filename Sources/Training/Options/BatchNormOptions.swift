import ArgumentParser

/// `--bn`: BatchNorm statistics across ranks or per rank (pretraining, and the benchmarked SimCLR step).
public struct BatchNormOptions: ParsableArguments {
    @Option(help: "BatchNorm statistics: sync (across ranks) or local.")
    public var bn: BatchNormStatistics = .sync

    public init() {}
}
