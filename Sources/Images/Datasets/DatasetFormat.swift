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
        let imageExtensions: Set<String> = ["jpg", "jpeg", "jpe", "jfif"]
        if files.contains(where: { imageExtensions.contains(($0 as NSString).pathExtension.lowercased()) }) { return .folder }
        if !folders.isEmpty { return .imageFolder }
        throw DatasetError.unknownFormat(
            path: path, detail: "no JPEG files, class folders, IDX files, CIFAR batches or Pet annotations")
    }
}

/// Settings for `openDataset` beyond path, format and split.
public struct DatasetOptions: Codable, Equatable, Sendable {
    /// 1 or 3 channels; nil: the dataset's own (folder formats: 1 only when every image is gray).
    public var channels: Int?
    /// Oxford-IIIT Pet: breeds (37 classes) or species (2).
    public var petLabels: OxfordPetDataset.Labels = .breed
    public var validation: ImageValidation = .header
    /// The synthetic dataset: images in the train split (the test split has a quarter as many).
    public var syntheticCount = 2048
    public var syntheticClasses = 10
    public var syntheticSize = 32
    public var syntheticSeed: UInt64 = 0

    public init(channels: Int? = nil, petLabels: OxfordPetDataset.Labels = .breed, validation: ImageValidation = .header) {
        self.channels = channels
        self.petLabels = petLabels
        self.validation = validation
    }
}

/// Opens a dataset: `path` nil (or format `.synthetic`) gives the synthetic set; `.auto` detects
/// the layout. Throws a `DatasetError` (one line) for a missing path, an unknown layout, a split the
/// data does not have or a dataset with no readable image.
public func openDataset(path: String?, format: DatasetFormat = .auto, split: DatasetSplit = .train,
                        options: DatasetOptions = DatasetOptions(), skipLog: SkipLog = SkipLog()) throws -> ImageDataset {
    if let c = options.channels, c != 1 && c != 3 {
        throw DatasetError.badOption("channels must be 1 or 3, not \(c)")
    }
    guard let path, format != .synthetic else {
        return SyntheticDataset(count: split == .train ? options.syntheticCount : max(1, options.syntheticCount / 4),
                                classes: options.syntheticClasses, size: options.syntheticSize,
                                channels: options.channels ?? 3, seed: options.syntheticSeed, split: split)
    }
    let resolved = format == .auto ? try DatasetFormat.detect(path: path) : format
    let dataset: ImageDataset
    switch resolved {
    case .imageFolder:
        dataset = try ImageFolderDataset(root: path, split: split, channels: options.channels,
                                         validation: options.validation, skipLog: skipLog)
    case .oxfordPet:
        dataset = try OxfordPetDataset(root: path, split: split, labels: options.petLabels,
                                       channels: options.channels ?? 3, validation: options.validation, skipLog: skipLog)
    case .idx:
        dataset = try IDXDataset(directory: path, split: split)
    case .cifar:
        dataset = try CIFARDataset(directory: path, split: split)
    case .folder:
        if split != .train { throw DatasetError.noSplit(path: path, split: split) }
        dataset = try UnlabelledFolderDataset(root: path, channels: options.channels, validation: options.validation,
                                              skipLog: skipLog)
    case .auto, .synthetic:
        preconditionFailure("openDataset: format resolved above")
    }
    if let c = options.channels, c != dataset.channels {
        return ChannelConvertedDataset(dataset, channels: c)
    }
    return dataset
}
