import ArgumentParser
import Foundation

/// How a process uses its machine's cores.
public struct ComputeOptions: ParsableArguments {
    @Option(help: "Compute threads of each rank; default: this machine's cores shared among the ranks on it.")
    public var threads: Int?

    @Option(help: "Data-loading threads of each rank.")
    public var workers = 1

    public init() {}

    public func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        guard workers >= 0 else { throw ValidationError("--workers must not be negative") }
    }

    /// `--threads`, or this machine's cores shared among the ranks mpirun started on it.
    public var resolvedThreads: Int { Self.threads(threads) }

    /// `given`, or this machine's cores shared among the ranks mpirun started on it.
    public static func threads(_ given: Int?) -> Int {
        if let given { return given }
        let local = Int(ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_LOCAL_SIZE"] ?? "") ?? 1
        return max(1, ProcessInfo.processInfo.activeProcessorCount / max(local, 1))
    }
}
