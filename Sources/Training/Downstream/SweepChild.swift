import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One cell's process: spawned in a process group of its own with its output in a log file, waited
/// for with `waitpid`, and stopped as a group.
///
/// Not Foundation's `Process`: on Linux it learns of the exit through a descriptor the child
/// inherits, so a grandchild that outlives the child (a `sleep` in a wrapper script, an MPI daemon)
/// keeps it "running". A group of its own lets a stop reach the grandchildren too.
enum SweepChild {
    /// How the process ended.
    enum Ending: Equatable {
        case exited(Int32)
        case signalled(Int32)
        /// A stop signal reached the sweep, and the child's group was terminated.
        case interrupted
        case notStarted(String)
    }

    /// Runs `program` (searched on PATH when it has no slash) with `arguments`, standard output and
    /// error appended to `log`, standard input from /dev/null; polls `stop` while it runs.
    static func run(_ program: String, arguments: [String], log: URL, stop: StopSignal?) -> Ending {
        let fd = open(log.path, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        guard fd >= 0 else { return .notStarted("cannot write \(log.path)") }
        defer { close(fd) }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, fd, 1)
        posix_spawn_file_actions_adddup2(&actions, fd, 2)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // Its own group; default handling of the signals this process catches; nothing blocked.
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
        posix_spawnattr_setpgroup(&attributes, 0)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGINT, SIGTERM, SIGPIPE] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var mask = sigset_t()
        sigemptyset(&mask)
        posix_spawnattr_setsigmask(&attributes, &mask)

        let argv: [UnsafeMutablePointer<CChar>?] = ([program] + arguments).map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var pid: pid_t = 0
        let status = program.contains("/")
            ? posix_spawn(&pid, program, &actions, &attributes, argv, environ)
            : posix_spawnp(&pid, program, &actions, &attributes, argv, environ)
        guard status == 0 else { return .notStarted("cannot start \(program): \(String(cString: strerror(status)))") }

        var stoppedAt: Date?
        while true {
            var waitStatus: Int32 = 0
            let done = waitpid(pid, &waitStatus, WNOHANG)
            if done == pid {
                if stoppedAt != nil { return .interrupted }
                let signal = waitStatus & 0x7f
                return signal == 0 ? .exited((waitStatus >> 8) & 0xff) : .signalled(signal)
            }
            if done < 0 && errno != EINTR { return .notStarted("lost track of \(program): \(String(cString: strerror(errno)))") }
            if let since = stoppedAt {
                // A child that ignores SIGTERM for long is killed: the cell is run afresh anyway.
                if Date().timeIntervalSince(since) > 10 { kill(-pid, SIGKILL) }
            } else if stop?.signalName != nil {
                kill(-pid, SIGTERM)
                stoppedAt = Date()
            }
            usleep(20_000)
        }
    }
}
