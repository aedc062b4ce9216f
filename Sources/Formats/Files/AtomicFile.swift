import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why an atomic write failed. The destination is untouched whenever this is thrown before the
/// rename (`stage` other than `.syncFolder`).
public struct AtomicFileError: Error, LocalizedError, CustomStringConvertible, Equatable {
    /// The step that failed, in the order they happen.
    public enum Stage: String, Equatable, Sendable {
        case createTemporary = "could not create a temporary file in its folder"
        case write = "could not write"
        case sync = "could not flush to disk"
        case rename = "could not move the temporary file into place"
        case syncFolder = "could not flush the folder to disk"
    }

    /// The file that was to be written.
    public let path: String
    public let stage: Stage
    /// The `errno` reported by the system call.
    public let code: Int32

    public var description: String {
        "cannot write \(path): \(stage.rawValue): \(String(cString: strerror(code)))"
    }
    public var errorDescription: String? { description }
}

/// Writes whole files so that a reader sees either the previous contents or the new ones, never
/// a mixture: the bytes go to a temporary file in the same folder, which is flushed (`fsync`),
/// renamed over the destination, and then the folder itself is flushed so the rename survives a
/// crash. Any failure before the rename removes the temporary file and leaves the previous file
/// intact. Every run file (checkpoints, reports, plots, `config.json`) is written this way.
public enum AtomicFile {
    /// Writes `data` to `url` atomically.
    public static func write(_ data: Data, to url: URL) throws {
        try write(to: url) { try $0.write(data) }
    }

    /// Writes a file atomically from pieces: `body` streams bytes into the temporary file (so a
    /// large checkpoint need not be assembled in memory first). If `body` throws, the destination is
    /// left as it was and the error is rethrown.
    public static func write(to url: URL, _ body: (AtomicFileOutput) throws -> Void) throws {
        let path = url.path
        let folder = url.deletingLastPathComponent().path
        let temporary = folder + "/." + url.lastPathComponent + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw AtomicFileError(path: path, stage: .createTemporary, code: errno) }
        let output = AtomicFileOutput(descriptor: fd, path: path)
        do {
            try body(output)
            if fsync(fd) != 0 { throw AtomicFileError(path: path, stage: .sync, code: errno) }
        } catch {
            close(fd)
            unlink(temporary)
            throw error
        }
        // A failing close after a successful fsync cannot lose data; nothing to report.
        close(fd)
        if rename(temporary, path) != 0 {
            let code = errno
            unlink(temporary)
            throw AtomicFileError(path: path, stage: .rename, code: code)
        }
        try syncFolder(folder, forFile: path)
    }

    /// Flushes a folder's entries (the rename) to disk. Filesystems that cannot sync a folder
    /// report EINVAL; the file itself is already safe there, so that is not an error.
    private static func syncFolder(_ folder: String, forFile path: String) throws {
        let fd = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        defer { close(fd) }
        if fsync(fd) != 0 && errno != EINVAL && errno != ENOTSUP {
            throw AtomicFileError(path: path, stage: .syncFolder, code: errno)
        }
    }
}

/// The temporary file of an `AtomicFile.write(to:_:)` in progress. Writes are unbuffered: each call
/// goes straight to the file descriptor.
public final class AtomicFileOutput {
    let descriptor: Int32
    let path: String
    /// Bytes written so far.
    public private(set) var count = 0

    init(descriptor: Int32, path: String) {
        self.descriptor = descriptor
        self.path = path
    }

    /// Appends `data`.
    public func write(_ data: Data) throws {
        try data.withUnsafeBytes { try write($0) }
    }

    /// Appends raw bytes.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        let code = writeAll(descriptor, bytes)
        if code != 0 { throw AtomicFileError(path: path, stage: .write, code: code) }
        count += bytes.count
    }
}

/// Writes every byte of `bytes` to `fd`, retrying after short writes and interruptions. Returns
/// 0, or the `errno` of the failure.
func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Int32 {
    guard var next = bytes.baseAddress else { return 0 }
    var remaining = bytes.count
    while remaining > 0 {
        let written = write(fd, next, remaining)
        if written < 0 {
            if errno == EINTR { continue }
            return errno
        }
        next += written
        remaining -= written
    }
    return 0
}

/// `close(2)`, reachable from types that have a `close()` method of their own.
func closeDescriptor(_ fd: Int32) {
    _ = close(fd)
}
