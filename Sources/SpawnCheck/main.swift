// simclr-spawncheck COMMAND [ARGS...]: starts COMMAND as a SpawnedProcess (its output shared with
// this one), prints `child PID` and waits for it, exiting with its status. The Spawn tests kill this
// process with SIGKILL while the child runs: the child must end with it.
import Foundation
import Spawn

let command = Array(CommandLine.arguments.dropFirst())
guard !command.isEmpty else {
    FileHandle.standardError.write(Data("usage: simclr-spawncheck COMMAND [ARGS...]\n".utf8))
    exit(2)
}
do {
    let child = try SpawnedProcess(command, output: .inherited)
    print("child \(child.pid)")
    fflush(stdout)
    switch child.wait() {
    case .exited(let status): exit(status)
    case .signalled(let signal): exit(128 + signal)
    case .stopped: exit(1)
    }
} catch {
    FileHandle.standardError.write(Data("simclr-spawncheck: \(error)\n".utf8))
    exit(1)
}
