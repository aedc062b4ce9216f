import Foundation
import Images

/// Small files the tests write themselves in a fresh temporary folder.
final class TestFolder {
    let root: String

    init(_ name: String = #function) {
        root = NSTemporaryDirectory() + "images-tests-\(name.filter { $0.isLetter })-\(UUID().uuidString)"
        try! FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }

    /// Writes `bytes` at `relative` (creating folders) and returns the full path.
    @discardableResult
    func write(_ relative: String, _ bytes: [UInt8]) -> String {
        let path = root + "/" + relative
        try! FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                 withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
        return path
    }

    /// A small JPEG whose content depends on `seed`.
    static func jpeg(_ seed: Int, width: Int = 12, height: Int = 10, channels: Int = 3) -> [UInt8] {
        var pixels = [UInt8](repeating: 0, count: width * height * channels)
        for i in 0..<pixels.count { pixels[i] = UInt8(truncatingIfNeeded: i * (seed + 3) + seed * 40) }
        return try! JPEGDecoder.encode(Image(width: width, height: height, channels: channels, pixels: pixels))
    }
}

/// A gzip file of `data` in stored (uncompressed) deflate blocks, for feeding zlib real gzip.
func gzipStored(_ data: [UInt8]) -> [UInt8] {
    var out: [UInt8] = [0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 255]
    var offset = 0
    repeat {
        let n = min(65535, data.count - offset)
        let last: UInt8 = offset + n == data.count ? 1 : 0
        out += [last, UInt8(n & 0xFF), UInt8(n >> 8), UInt8(~n & 0xFF), UInt8((~n >> 8) & 0xFF)]
        out += data[offset ..< offset + n]
        offset += n
    } while offset < data.count
    var crc: UInt32 = 0xFFFF_FFFF
    for byte in data {
        crc ^= UInt32(byte)
        for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
    }
    crc = ~crc
    let size = UInt32(truncatingIfNeeded: data.count)
    for v in [crc, size] { out += [UInt8(v & 0xFF), UInt8((v >> 8) & 0xFF), UInt8((v >> 16) & 0xFF), UInt8(v >> 24)] }
    return out
}

/// An IDX file of unsigned bytes.
func idx(_ dims: [Int], _ data: [UInt8]) -> [UInt8] {
    var out: [UInt8] = [0, 0, 8, UInt8(dims.count)]
    for d in dims { out += [UInt8(d >> 24 & 0xFF), UInt8(d >> 16 & 0xFF), UInt8(d >> 8 & 0xFF), UInt8(d & 0xFF)] }
    return out + data
}
