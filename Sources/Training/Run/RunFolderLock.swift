import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Holds a run folder for one job: an exclusive `flock` on `.lock` inside it, taken without waiting
/// and released by the kernel when the process ends however it ends, so a crash never leaves a
/// stale lock. The file records the holder's host and process id for the message a second job gets.
public final class RunFolderLock {
    public static let fileName = ".lock"
    private var descriptor: Int32

    /// Takes the lock of `folder` (which must exist), or throws `TrainingError.runFolderBusy` naming
    /// the job that holds it.
    public init(folder: URL, path: String) throws {
        let url = folder.appendingPathComponent(Self.fileName)
        descriptor = open(url.path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw TrainingError.io("cannot lock \(path): \(String(cString: strerror(errno)))")
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let reason = errno
            let holder = (try? String(contentsOf: url, encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            close(descriptor)
            guard reason == EWOULDBLOCK else {
                throw TrainingError.io("cannot lock \(path): \(String(cString: strerror(reason)))")
            }
            throw TrainingError.runFolderBusy(path, holder: holder.isEmpty ? "another process" : holder)
        }
        let me = "\(ProcessInfo.processInfo.hostName) pid \(getpid())\n"
        ftruncate(descriptor, 0)
        _ = me.withCString { write(descriptor, $0, strlen($0)) }
    }

    /// Whether another process holds the lock of `folder` now (a folder without a lock file is free).
    public static func isHeld(folder: URL) -> Bool {
        let fd = open(folder.appendingPathComponent(fileName).path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else { return errno == EWOULDBLOCK }
        flock(fd, LOCK_UN)
        return false
    }

    /// Gives the folder up before the process ends.
    public func release() {
        guard descriptor >= 0 else { return }
        close(descriptor)
        descriptor = -1
    }

    deinit { release() }
}
