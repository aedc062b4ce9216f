import Foundation

/// Chooses the communicator of this process from how it was started.
public enum CommunicatorFactory {
    /// Variables that Open MPI's launcher (mpirun/orted, via PMIx) sets in every rank it starts.
    public static let launcherVariables = ["OMPI_COMM_WORLD_SIZE", "PMIX_RANK"]

    /// True when `environment` shows a process started by `mpirun`.
    public static func startedByMPI(environment: [String: String] = ProcessInfo.processInfo.environment) -> Bool {
        launcherVariables.contains { environment[$0] != nil }
    }

    /// An `MPICommunicator` when the process was started by `mpirun`, otherwise a
    /// `SingleProcessCommunicator`: a plain run never initialises MPI, so it needs no daemon and no ssh.
    public static func make(environment: [String: String] = ProcessInfo.processInfo.environment) -> Communicator {
        startedByMPI(environment: environment) ? MPICommunicator() : SingleProcessCommunicator()
    }
}
