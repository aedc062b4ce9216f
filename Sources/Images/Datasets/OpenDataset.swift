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
