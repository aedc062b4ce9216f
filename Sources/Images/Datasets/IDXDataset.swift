import CZlib
import Foundation

/// MNIST-style IDX files (LeCun et al.), gzip-compressed or plain: `train-images-idx3-ubyte[.gz]`
/// with `train-labels-idx1-ubyte[.gz]`, and `t10k-...` for the test split, in one folder.
/// Fashion-MNIST is recognised by "fashion" in the path and gets its class names; otherwise the
/// ten classes are the digits.
public final class IDXDataset: InMemoryDataset {
    public static let fashionClassNames = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                                           "Sneaker", "Bag", "Ankle boot"]

    public init(directory: String, split: DatasetSplit = .train) throws {
        guard FileImageDataset.isDirectory(directory) else { throw DatasetError.notFound(path: directory) }
        let prefix = split == .train ? "train" : "t10k"
        guard let imagesPath = Self.find(directory, prefix + "-images", "idx3-ubyte"),
              let labelsPath = Self.find(directory, prefix + "-labels", "idx1-ubyte") else {
            throw DatasetError.noSplit(path: directory, split: split)
        }
        let (imageDims, pixels) = try Self.read(imagesPath)
        let (labelDims, labelBytes) = try Self.read(labelsPath)
        guard imageDims.count == 3 || (imageDims.count == 4 && (imageDims[3] == 1 || imageDims[3] == 3)) else {
            throw DatasetError.malformed(path: imagesPath, reason: "expected [count, height, width(, channels)], got \(imageDims)")
        }
        guard labelDims.count == 1, labelDims[0] == imageDims[0] else {
            throw DatasetError.malformed(path: labelsPath, reason: "\(labelDims) labels for \(imageDims[0]) images")
        }
        if imageDims[0] == 0 { throw DatasetError.noImages(path: imagesPath) }
        let labels = labelBytes.map { Int($0) }
        let classes = (labels.max() ?? 0) + 1
        let fashion = directory.lowercased().contains("fashion") && classes <= 10
        let names = fashion ? Self.fashionClassNames : (0..<max(classes, 10)).map { String($0) }
        super.init(name: "\(fashion ? "Fashion-MNIST" : "IDX") \(directory) (\(split.rawValue))", pixels: pixels,
                   labels: labels, height: imageDims[1], width: imageDims[2],
                   channels: imageDims.count == 4 ? imageDims[3] : 1, classNames: names)
    }

    /// `<stem>-<kind>` or `<stem>.<kind>`, with or without `.gz`.
    static func find(_ directory: String, _ stem: String, _ kind: String) -> String? {
        for name in ["\(stem)-\(kind)", "\(stem).\(kind)"] {
            for suffix in ["", ".gz"] {
                let path = directory + "/" + name + suffix
                if FileManager.default.fileExists(atPath: path) { return path }
            }
        }
        return nil
    }

    /// Parses one IDX file of unsigned bytes: the dimensions and the data.
    public static func read(_ path: String) throws -> (dims: [Int], data: [UInt8]) {
        let bytes = try inflate(path)
        guard bytes.count >= 4, bytes[0] == 0, bytes[1] == 0 else {
            throw DatasetError.malformed(path: path, reason: "not an IDX file (bad magic number)")
        }
        guard bytes[2] == 0x08 else {
            throw DatasetError.malformed(path: path, reason: "IDX element type 0x\(String(bytes[2], radix: 16)) (only unsigned bytes supported)")
        }
        let rank = Int(bytes[3])
        guard rank >= 1, bytes.count >= 4 + 4 * rank else {
            throw DatasetError.malformed(path: path, reason: "IDX header cut short")
        }
        var dims: [Int] = []
        for d in 0..<rank {
            let o = 4 + 4 * d
            dims.append(Int(bytes[o]) << 24 | Int(bytes[o + 1]) << 16 | Int(bytes[o + 2]) << 8 | Int(bytes[o + 3]))
        }
        let expected = dims.reduce(1, *), start = 4 + 4 * rank
        guard bytes.count - start == expected else {
            throw DatasetError.malformed(path: path, reason: "\(bytes.count - start) data bytes for dimensions \(dims)")
        }
        return (dims, Array(bytes[start...]))
    }

    /// The file's bytes, gunzipped when compressed (zlib reads plain files unchanged).
    static func inflate(_ path: String) throws -> [UInt8] {
        guard let file = gzopen(path, "rb") else {
            throw DatasetError.malformed(path: path, reason: "cannot open: \(String(cString: strerror(errno)))")
        }
        defer { gzclose(file) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = chunk.withUnsafeMutableBytes { gzread(file, $0.baseAddress, UInt32($0.count)) }
            if n < 0 {
                var code: Int32 = 0
                let message = String(cString: gzerror(file, &code))
                throw DatasetError.malformed(path: path, reason: "gzip: \(message)")
            }
            if n == 0 { break }
            out.append(contentsOf: chunk[0..<Int(n)])
        }
        return out
    }
}
