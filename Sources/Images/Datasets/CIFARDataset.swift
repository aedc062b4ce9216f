import Foundation

/// CIFAR-10 / CIFAR-100 in their binary versions (Krizhevsky 2009). CIFAR-10: `data_batch_1..5.bin`
/// and `test_batch.bin`, records of 1 label byte + 3072 pixel bytes; CIFAR-100: `train.bin` and
/// `test.bin`, records of coarse and fine label bytes + 3072 (the fine label is used). Pixels are
/// stored as planes (R, G, B of 32x32) and turned into `[32, 32, 3]`. Class names come from
/// `batches.meta.txt` / `fine_label_names.txt` when present. The folder may also be the parent of
/// `cifar-10-batches-bin` or `cifar-100-binary`.
public final class CIFARDataset: InMemoryDataset {
    public static let cifar10ClassNames = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                                           "ship", "truck"]

    public init(directory: String, split: DatasetSplit = .train) throws {
        guard FileImageDataset.isDirectory(directory) else { throw DatasetError.notFound(path: directory) }
        guard let (folder, isCIFAR100) = Self.locate(directory) else {
            throw DatasetError.malformed(path: directory, reason: "no CIFAR binary batches (data_batch_*.bin or train.bin)")
        }
        let files: [String]
        if isCIFAR100 {
            files = [split == .train ? "train.bin" : "test.bin"]
        } else {
            files = split == .train ? (1...5).map { "data_batch_\($0).bin" } : ["test_batch.bin"]
        }
        let record = isCIFAR100 ? 3074 : 3073, labelBytes = isCIFAR100 ? 2 : 1
        var pixels: [UInt8] = [], labels: [Int] = []
        for file in files {
            let path = folder + "/" + file
            if !FileManager.default.fileExists(atPath: path) {
                if split == .train && file != files[0] { continue }   // fewer training batches is fine
                throw DatasetError.noSplit(path: directory, split: split)
            }
            let bytes = try FileBytes.read(path)
            guard !bytes.isEmpty, bytes.count % record == 0 else {
                throw DatasetError.malformed(path: path, reason: "\(bytes.count) bytes is not a whole number of \(record)-byte records")
            }
            let n = bytes.count / record
            pixels.reserveCapacity(pixels.count + n * 3072)
            bytes.withUnsafeBufferPointer { src in
                for r in 0..<n {
                    let base = r * record
                    labels.append(Int(src[base + labelBytes - 1]))
                    let planes = base + labelBytes
                    for p in 0..<1024 {
                        pixels.append(src[planes + p])
                        pixels.append(src[planes + 1024 + p])
                        pixels.append(src[planes + 2048 + p])
                    }
                }
            }
        }
        let namesFile = folder + "/" + (isCIFAR100 ? "fine_label_names.txt" : "batches.meta.txt")
        var names = ((try? String(contentsOfFile: namesFile, encoding: .utf8)) ?? "")
            .split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let classes = isCIFAR100 ? 100 : 10
        if names.count != classes {
            names = isCIFAR100 ? (0..<100).map { "class \($0)" } : Self.cifar10ClassNames
        }
        if let bad = labels.first(where: { $0 >= classes }) {
            throw DatasetError.malformed(path: folder, reason: "label \(bad) outside 0..<\(classes)")
        }
        super.init(name: "\(isCIFAR100 ? "CIFAR-100" : "CIFAR-10") \(directory) (\(split.rawValue))", pixels: pixels,
                   labels: labels, height: 32, width: 32, channels: 3, classNames: names)
    }

    /// The folder holding the batches and whether it is CIFAR-100.
    static func locate(_ directory: String) -> (String, Bool)? {
        for folder in [directory, directory + "/cifar-10-batches-bin", directory + "/cifar-100-binary"] {
            let fm = FileManager.default
            if fm.fileExists(atPath: folder + "/data_batch_1.bin") || fm.fileExists(atPath: folder + "/test_batch.bin") {
                return (folder, false)
            }
            if fm.fileExists(atPath: folder + "/train.bin") || fm.fileExists(atPath: folder + "/test.bin") {
                return (folder, true)
            }
        }
        return nil
    }
}
