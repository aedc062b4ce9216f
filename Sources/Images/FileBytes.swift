import Foundation

/// Whole-file reads with errno-based, one-line failures.
enum FileBytes {
    /// The bytes of the regular file at `path`.
    static func read(_ path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY)
        if fd < 0 { throw ImageError.unreadable(source: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var info = stat()
        if fstat(fd, &info) != 0 {
            throw ImageError.unreadable(source: path, reason: String(cString: strerror(errno)))
        }
        if (info.st_mode & S_IFMT) != S_IFREG {
            throw ImageError.unreadable(source: path, reason: "not a regular file")
        }
        let size = Int(info.st_size)
        var bytes = [UInt8](repeating: 0, count: size)
        var done = 0
        let failure: Int32 = bytes.withUnsafeMutableBytes { buffer -> Int32 in
            while done < size {
                let n = Foundation.read(fd, buffer.baseAddress! + done, size - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                if n == 0 { break }
                done += n
            }
            return 0
        }
        if failure != 0 { throw ImageError.unreadable(source: path, reason: String(cString: strerror(failure))) }
        if done < size { bytes.removeSubrange(done...) }
        return bytes
    }
}
