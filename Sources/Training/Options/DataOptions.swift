import ArgumentParser
import Foundation
import Images

/// `--data` and `--format`: where the images come from (every command that reads data).
public struct DataOptions: ParsableArguments {
    @Option(help: "Dataset path (ImageFolder, Oxford-IIIT Pet, IDX, CIFAR binary, or a folder of images); default: the built-in synthetic set.")
    public var data: String?

    @Option(help: "auto, imagefolder, pet, idx, cifar, folder or synthetic.")
    public var format: DatasetFormat = .auto

    public init() {}

    public func validate() throws {
        if let data, !FileManager.default.fileExists(atPath: data) {
            throw ValidationError("--data \(data) does not exist")
        }
    }

    /// `--data` as an absolute path, as configs record it; nil for the synthetic set.
    public var absolutePath: String? { data.map(absolutePath(_:)) }
}

/// `path` made absolute and standardised, as configs record paths.
func absolutePath(_ path: String) -> String {
    URL(fileURLWithPath: path).standardizedFileURL.path
}
