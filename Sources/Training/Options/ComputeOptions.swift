import ArgumentParser
import Foundation
import Synchronization
import Tensors

/// How a process uses its machine's cores.
public struct ComputeOptions: ParsableArguments {
    @Option(help: "Compute threads of each rank, at most its share of the cores; default: this machine's cores shared among the ranks on it.")
    public var threads: Int?

    @Option(help: "Data-loading threads of each rank.")
    public var workers = 1

    public init() {}

    public func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        guard workers >= 0 else { throw ValidationError("--workers must not be negative") }
    }

    /// `--threads` capped to this rank's share of the cores, or that share; the first time a
    /// process asks, the cap's warning (`threadsWarning`) goes to standard error.
    public var resolvedThreads: Int { Self.threads(threads) }

    /// The line that says `--threads` was capped, or nil when it was not.
    public var threadsWarning: String? { Self.threadsWarning(given: threads, cores: Threads.cores, localRanks: Self.localRanks) }

    /// `given` capped to this rank's share of the cores, or that share when nil; prints the cap's
    /// warning once per process (from the first rank on the node alone, under mpirun).
    public static func threads(_ given: Int?) -> Int {
        if let warning = threadsWarning(given: given, cores: Threads.cores, localRanks: localRanks),
           !warned.exchange(true, ordering: .relaxed), localRank == 0 {
            FileHandle.standardError.write(Data((warning + "\n").utf8))
        }
        return threads(given: given, cores: Threads.cores, localRanks: localRanks)
    }

    /// `given` capped to a rank's share of `cores` among `localRanks` ranks, or that share when nil.
    /// More compute threads than cores only wait for each other.
    public static func threads(given: Int?, cores: Int, localRanks: Int) -> Int {
        let share = max(1, cores / max(1, localRanks))
        return min(given ?? share, share)
    }

    /// The warning for a `given` above the share `threads(given:cores:localRanks:)` caps it to.
    public static func threadsWarning(given: Int?, cores: Int, localRanks: Int) -> String? {
        let used = threads(given: given, cores: cores, localRanks: localRanks)
        guard let given, given > used else { return nil }
        let ranks = localRanks > 1 ? " shared by \(localRanks) ranks" : ""
        return "warning: --threads \(given) is more than this rank's share of \(cores) core(s)\(ranks); using \(used)"
    }

    private static let warned = Atomic<Bool>(false)

    /// The ranks that share this rank's cores: those mpirun started on this machine (1 outside
    /// mpirun), or 1 when mpirun bound the rank to cores of its own.
    private static var localRanks: Int {
        guard Threads.cores >= ProcessInfo.processInfo.activeProcessorCount else { return 1 }
        return Int(ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_LOCAL_SIZE"] ?? "") ?? 1
    }

    /// This rank's place among the ranks mpirun started on this machine.
    private static var localRank: Int { Int(ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_LOCAL_RANK"] ?? "") ?? 0 }
}
