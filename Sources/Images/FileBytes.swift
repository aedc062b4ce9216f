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

    /// Names a few common non-JPEG formats from their first bytes, so that a PNG named `.jpg` gets a
    /// clear message; nil when the bytes could be a JPEG (they start with the SOI marker).
    static func foreignFormat(_ bytes: UnsafeRawBufferPointer) -> String? {
        func starts(_ prefix: [UInt8]) -> Bool {
            bytes.count >= prefix.count && zip(bytes, prefix).allSatisfy { $0 == $1 }
        }
        if starts([0xFF, 0xD8]) { return nil }
        if starts([0x89, 0x50, 0x4E, 0x47]) { return "PNG" }
        if starts([0x47, 0x49, 0x46, 0x38]) { return "GIF" }
        if starts([0x42, 0x4D]) { return "BMP" }
        if starts([0x49, 0x49, 0x2A, 0x00]) || starts([0x4D, 0x4D, 0x00, 0x2A]) { return "TIFF" }
        if starts([0x52, 0x49, 0x46, 0x46]) { return "RIFF/WebP" }
        if starts([0x1F, 0x8B]) { return "gzip" }
        let sample = bytes.prefix(64)
        if !sample.isEmpty && sample.allSatisfy({ $0 == 9 || $0 == 10 || $0 == 13 || (32..<127).contains($0) }) {
            return "text"
        }
        return "unknown format"
    }
}
