import ArgumentParser

/// How a training command starts: afresh, continuing its run folder, or not at all (`--dry-run`).
public struct RunStartOptions: ParsableArguments {
    @Flag(help: "Continue the run in --out from its last checkpoint.")
    public var resume = false
    @Flag(help: "Print the resolved settings and the estimated memory of a step, and stop.")
    public var dryRun = false

    public init() {}
}
