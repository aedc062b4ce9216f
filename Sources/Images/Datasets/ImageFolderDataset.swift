/// torchvision's ImageFolder layout: `root/<class>/<image>` (files may sit in nested folders of a
/// class), classes sorted by name. With split folders, `root/train/<class>/...` and
/// `root/test/<class>/...` (`val` stands in for a missing `test`); without them the whole folder
/// is the train split.
public final class ImageFolderDataset: FileImageDataset {
    /// - Parameters:
    ///   - channels: 1 or 3, or nil to pick 1 when every image is grayscale.
    public init(root: String, split: DatasetSplit = .train, channels: Int? = nil,
                validation: ImageValidation = .header, skipLog: SkipLog = SkipLog()) throws {
        guard Self.isDirectory(root) else { throw DatasetError.notFound(path: root) }
        let folder = try Self.splitFolder(root: root, split: split)
        let classes = Self.subdirectories(of: folder)
        if classes.isEmpty {
            throw DatasetError.malformed(path: folder, reason: "no class folders (expected <class>/<image> inside)")
        }
        var candidates: [(path: String, label: Int)] = []
        for (label, name) in classes.enumerated() {
            candidates += Self.files(under: folder + "/" + name).map { ($0, label) }
        }
        try super.init(name: "ImageFolder \(root) (\(split.rawValue))", root: folder, candidates: candidates,
                       classNames: classes, channels: channels, validation: validation, skipLog: skipLog)
    }

    /// The folder holding the class folders of `split`.
    static func splitFolder(root: String, split: DatasetSplit) throws -> String {
        let subfolders = Set(subdirectories(of: root))
        let hasSplits = subfolders.contains("train") && (subfolders.contains("test") || subfolders.contains("val"))
        if !hasSplits {
            if split == .train { return root }
            throw DatasetError.noSplit(path: root, split: split)
        }
        switch split {
        case .train: return root + "/train"
        case .test: return root + (subfolders.contains("test") ? "/test" : "/val")
        }
    }
}
