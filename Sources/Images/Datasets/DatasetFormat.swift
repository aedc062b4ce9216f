import Foundation

/// The on-disk layouts `openDataset` understands.
public enum DatasetFormat: String, Codable, Sendable, CaseIterable {
    /// Detect from the folder's contents (see `detect(path:)`).
    case auto
    /// `root/<class>/<image>`, optionally under `train/` and `test/` (or `val/`).
    case imageFolder = "imagefolder"
    /// Oxford-IIIT Pet: `images/` and `annotations/{trainval,test}.txt`.
    case oxfordPet = "pet"
    /// MNIST / Fashion-MNIST IDX files, gzip or plain.
    case idx
    /// CIFAR-10 / CIFAR-100 binary batches.
    case cifar
    /// Every image under a folder, unlabelled.
    case folder
    /// The built-in procedural dataset (no files).
    case synthetic

    /// Reads a format name, `auto` included; nil when unknown.
    public init?(name: String) {
        self.init(rawValue: name.lowercased())
    }

    /// The format of the folder at `path`:
    /// `annotations/trainval.txt` or `annotations/test.txt` -> pet; an `*-idx3-ubyte[.gz]` file ->
    /// idx; CIFAR batches -> cifar; image files directly inside -> folder; only subfolders (classes,
    /// or train/test splits) -> imagefolder.
    public static func detect(path: String) throws -> DatasetFormat {
        let fm = FileManager.default
        guard fm.fileExists(atPath: path) else { throw DatasetError.notFound(path: path) }
        guard FileImageDataset.isDirectory(path) else {
            throw DatasetError.unknownFormat(path: path, detail: "expected a folder")
        }
        if fm.fileExists(atPath: path + "/annotations/trainval.txt") || fm.fileExists(atPath: path + "/annotations/test.txt") {
            return .oxfordPet
        }
        let names = ((try? fm.contentsOfDirectory(atPath: path)) ?? []).filter { !$0.hasPrefix(".") }
        if names.contains(where: { $0.contains("idx3-ubyte") }) { return .idx }
        if CIFARDataset.locate(path) != nil { return .cifar }
        let files = names.filter { !FileImageDataset.isDirectory(path + "/" + $0) }
        let folders = names.filter { FileImageDataset.isDirectory(path + "/" + $0) }
        if files.contains(where: { ImageDecoder.fileExtensions.contains(($0 as NSString).pathExtension.lowercased()) }) {
            return .folder
        }
        if !folders.isEmpty { return .imageFolder }
        throw DatasetError.unknownFormat(
            path: path, detail: "no JPEG or PNG files, class folders, IDX files, CIFAR batches or Pet annotations")
    }
}
