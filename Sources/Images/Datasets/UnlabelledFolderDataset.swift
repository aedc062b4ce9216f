/// Every image file under a folder, flat or nested, without labels (pretraining data).
public final class UnlabelledFolderDataset: FileImageDataset {
    public init(root: String, channels: Int? = nil, validation: ImageValidation = .header,
                skipLog: SkipLog = SkipLog()) throws {
        guard Self.isDirectory(root) else { throw DatasetError.notFound(path: root) }
        let candidates = Self.files(under: root).map { (path: $0, label: -1) }
        try super.init(name: "images in \(root)", root: root, candidates: candidates, classNames: [],
                       channels: channels, validation: validation, skipLog: skipLog)
    }
}
