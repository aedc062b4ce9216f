import CSpawn
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A program started by this one: in a process group of its own, standard input from /dev/null,
/// standard output and error appended to a file (or shared with this process), waited for by polling
/// so that a stop condition can end it, and stopped as a group.
///
/// Not Foundation's `Process`: on Linux it learns of the exit through a descriptor the child
/// inherits, so a grandchild that outlives the child (a `sleep` in a wrapper script, an MPI daemon)
/// keeps it "running"; and it has neither process groups nor a parent-death signal.
///
/// A group of its own lets a stop reach the grandchildren too, and keeps a Ctrl-C at the terminal
/// from reaching the child behind this process's back: this process decides, through the stop
/// condition, how its child ends.
///
/// Dying with the parent (Linux): the child asks the kernel for SIGKILL when its parent ends
/// (`PR_SET_PDEATHSIG`). Only the child can ask, for itself, after fork and before exec, a step
/// `posix_spawn` does not offer; so a small C function (`cspawn_start` in CSpawn) forks, takes the
/// steps with async-signal-safe calls only, checks that the parent did not end before the request
/// was in place, and execs. SIGKILL because no one is left to wait for a graceful ending, and it is
/// the one signal a child can neither catch nor ignore. Two limits: for the kernel the parent is the
/// thread that forked, so start children from a thread that outlives them (the main thread does);
/// and the signal reaches the child only, not the processes it started (the ranks of an mpirun,
/// which puts each in a group of its own, end when they lose it).
///
/// Not thread-safe: one thread starts, waits for and stops a child.
public final class SpawnedProcess {
    /// Where the child's standard output and error go.
    public enum Output {
        /// Appended to this file, created if missing.
        case file(URL)
        /// This process's own standard output and error.
        case inherited
    }

    /// How the child ended.
    public enum Ending: Equatable {
        case exited(Int32)
        case signalled(Int32)
        /// The stop condition came true while it ran, or `terminate` was called before it was
        /// waited for; its group was terminated.
        case stopped
    }

    /// The program and its arguments, as given.
    public let arguments: [String]
    /// The child's process id, which is also its process group's id.
    public let pid: pid_t
    private var ending: Ending?

    /// Starts `arguments[0]` with the other arguments. A program name without a slash is searched
    /// in the folders of the `PATH` the child gets; `environment` replaces this process's when given.
    /// Throws a `SpawnError` when the program is not found, its output file cannot be opened, or it
    /// cannot be executed.
    public init(_ arguments: [String], environment: [String: String]? = nil, output: Output) throws {
        precondition(!arguments.isEmpty, "SpawnedProcess: no program to start")
        self.arguments = arguments
        let program = arguments[0]
        let searchPath = (environment ?? ProcessInfo.processInfo.environment)["PATH"] ?? Self.defaultSearchPath
        guard let path = Self.executable(program, searchPath: searchPath) else {
            throw SpawnError.notFound(program: program, searchPath: searchPath)
        }

        let input = open("/dev/null", O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw SpawnError.cannotStart(program: program, reason: "/dev/null: " + Self.lastError()) }
        defer { close(input) }
        var outputFD: Int32 = -1
        if case .file(let url) = output {
            outputFD = open(url.path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
            guard outputFD >= 0 else { throw SpawnError.cannotWriteOutput(path: url.path, reason: Self.lastError()) }
        }
        defer { if outputFD >= 0 { close(outputFD) } }

        // Everything the child needs is allocated here: after fork it may not call malloc.
        let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let envp: [UnsafeMutablePointer<CChar>?]? = environment.map { $0.map { strdup("\($0.key)=\($0.value)") } + [nil] }
        defer { envp?.forEach { free($0) } }
        let started = envp.map { cspawn_start(path, argv, $0, input, outputFD) }
            ?? cspawn_start(path, argv, environ, input, outputFD)
        guard started > 0 else {
            throw SpawnError.cannotStart(program: program, reason: String(cString: strerror(-started)))
        }
        pid = started
    }

    /// A child still running when its owner lets go of it is killed with its group at once, so it is
    /// neither orphaned nor left a zombie.
    deinit {
        if ending == nil { terminate(grace: 0) }
    }

    /// Whether the child is still running (it may have ended without `wait` having been called).
    public var isRunning: Bool {
        ending == nil && cspawn_has_ended(pid) == 0
    }

    /// Waits for the child to end, asking `stop` every `poll` seconds; when `stop` returns true while
    /// the child runs, its group is terminated (see `terminate(grace:)`) and the ending is `.stopped`.
    @discardableResult
    public func wait(poll: Double = 0.02, grace: Double = 10, stoppingWhen stop: () -> Bool = { false }) -> Ending {
        while ending == nil {
            if cspawn_has_ended(pid) != 0 {
                ending = reap()
            } else if stop() {
                terminate(grace: grace)
            } else {
                usleep(useconds_t(poll * 1_000_000))
            }
        }
        return ending!
    }

    /// Ends the child's process group: SIGTERM to all of it, then SIGKILL to what is left once the
    /// child has ended or `grace` seconds have passed, and reaps the child. Nothing happens once the
    /// child has been waited for: its group id may then belong to another process.
    public func terminate(grace: Double = 10) {
        guard ending == nil else { return }
        kill(-pid, SIGTERM)
        let deadline = Date(timeIntervalSinceNow: grace)
        while cspawn_has_ended(pid) == 0 && Date() < deadline { usleep(20_000) }
        // The child, not yet reaped, still holds the group id, so this cannot reach another group.
        kill(-pid, SIGKILL)
        _ = reap()
        ending = .stopped
    }

    private func reap() -> Ending {
        var code: Int32 = -1
        var signal: Int32 = -1
        let result = cspawn_reap(pid, &code, &signal)
        precondition(result == 0, "SpawnedProcess: cannot wait for process \(pid): \(String(cString: strerror(-result)))")
        return signal >= 0 ? .signalled(signal) : .exited(code)
    }

    /// The folders searched when there is no `PATH`.
    static let defaultSearchPath = "/usr/bin:/bin"

    /// The file `program` names: itself when it holds a slash, else the first executable file of
    /// that name in the folders of `searchPath` (a `PATH` value, where an empty entry is the current
    /// folder; /usr/bin:/bin when nil), or nil.
    public static func executable(_ program: String, searchPath: String?) -> String? {
        if program.contains("/") { return program }
        let fm = FileManager.default
        return (searchPath ?? defaultSearchPath).split(separator: ":", omittingEmptySubsequences: false)
            .map { ($0.isEmpty ? "." : String($0)) + "/" + program }
            .first { path in
                var isFolder: ObjCBool = false
                return fm.fileExists(atPath: path, isDirectory: &isFolder) && !isFolder.boolValue && fm.isExecutableFile(atPath: path)
            }
    }

    private static func lastError() -> String { String(cString: strerror(errno)) }
}
