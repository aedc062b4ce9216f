import ArgumentParser
import Distributed
import Foundation
import Training

/// `--dry-run`: the settings a run would save as its config.json, and the memory its step would
/// need, printed by rank 0.
func printPlan<Config: Encodable>(_ config: Config, memory: MemoryEstimate, _ comm: Communicator) throws {
    guard comm.rank == 0 else { return }
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    print(String(decoding: try encoder.encode(config), as: UTF8.self))
    var line = "memory: about \(memory.description) per rank at the step's peak (estimated)"
    if let available = MemoryEstimate.availableBytes() {
        line += String(format: "; %.1f GB available", available / 1e9)
    }
    print(line)
}

/// Runs a job on this process's communicator and turns a user error into one line and a non-zero
/// exit on every rank (an MPI job is aborted so that no rank waits for one that gave up).
func runJob(_ body: (Communicator) throws -> Void) throws {
    let comm = CommunicatorFactory.make()
    do {
        try body(comm)
        comm.finalize()
    } catch {
        let line = "simclr: \(error)"
        if comm.size > 1 {
            // Most errors reach every rank together (options, files, run folder: rank 0 decides);
            // rank 0's line and its abort then end the job before another rank repeats the line.
            if comm.rank != 0 { usleep(1_500_000) }
            comm.abort(code: 1, message: comm.rank == 0 ? line : "simclr: rank \(comm.rank): \(error)")
        }
        writeError(line + "\n")
        throw ExitCode(error is TrainingError && "\(error)".hasPrefix("stopped by") ? 130 : 1)
    }
}
