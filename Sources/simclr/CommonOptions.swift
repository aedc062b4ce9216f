import ArgumentParser
import Distributed
import Training

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
            comm.abort(code: 1, message: comm.rank == 0 ? line : "simclr: rank \(comm.rank): \(error)")
        }
        writeError(line + "\n")
        throw ExitCode(error is TrainingError && "\(error)".hasPrefix("stopped by") ? 130 : 1)
    }
}
