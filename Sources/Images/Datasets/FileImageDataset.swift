import Dispatch
import Foundation

/// How much of each file to check when a folder dataset is opened.
public enum ImageValidation: String, Codable, Sendable {
    /// Only that the file exists (bad files are found, and replaced, at load time).
    case none
    /// Read the file and parse its JPEG or PNG header: catches missing, empty, non-image and most
    /// corrupt files cheaply. The default.
    case header
    /// Decode every image (at 1/8 scale): also catches truncated and corrupt image data.
    case decode
}

/// A dataset of JPEG and PNG files on disk (told apart by content, not name), each with a label (or -1). The files that fail validation are
/// skipped when the dataset is opened, one warning each (see `SkipLog`). The base of the folder
/// formats (ImageFolder, Oxford-IIIT Pet, unlabelled folders).
public class FileImageDataset: ImageDataset {
    public let name: String
    public let classNames: [String]
    public let channels: Int
    public let skipLog: SkipLog
    /// Paths of the usable files.
    public let paths: [String]
    private let labelList: [Int]

    /// Validates `candidates` (in parallel) and keeps the good ones, in order.
    /// - Parameters:
    ///   - channels: 1 or 3; nil picks 1 when every validated file is grayscale, else 3.
    ///   - root: named in the error thrown when no file survives.
    init(name: String, root: String, candidates: [(path: String, label: Int)], classNames: [String],
         channels: Int?, validation: ImageValidation, skipLog: SkipLog) throws {
        precondition(channels == nil || channels == 1 || channels == 3, "FileImageDataset: \(channels!) channels")
        self.name = name
        self.classNames = classNames
        self.skipLog = skipLog
        var failures = [ImageError?](repeating: nil, count: candidates.count)
        var components = [Int](repeating: 3, count: candidates.count)
        if validation != .none {
            failures.withUnsafeMutableBufferPointer { failures in
                components.withUnsafeMutableBufferPointer { components in
                    DispatchQueue.concurrentPerform(iterations: candidates.count) { i in
                        do {
                            let path = candidates[i].path
                            if validation == .header {
                                components[i] = try ImageDecoder.header(contentsOf: path).isGray ? 1 : 3
                            } else {
                                components[i] = try ImageDecoder.decode(contentsOf: path, minimumWidth: 1,
                                                                        minimumHeight: 1).channels
                            }
                        } catch let error as ImageError {
                            failures[i] = error
                        } catch {
                            failures[i] = .unreadable(source: candidates[i].path, reason: "\(error)")
                        }
                    }
                }
            }
        }
        var paths: [String] = [], labels: [Int] = [], allGray = validation != .none
        for (i, candidate) in candidates.enumerated() {
            if let failure = failures[i] {
                skipLog.record(failure)
            } else {
                paths.append(candidate.path)
                labels.append(candidate.label)
                if components[i] != 1 { allGray = false }
            }
        }
        skipLog.finish()
        if paths.isEmpty { throw DatasetError.noImages(path: root) }
        self.paths = paths
        labelList = labels
        self.channels = channels ?? (allGray ? 1 : 3)
    }

    public var count: Int { paths.count }
    public var isInMemory: Bool { false }
    public func label(at index: Int) -> Int { labelList[index] }
    public func source(at index: Int) -> String { paths[index] }

    public func image(at index: Int, minimumSide: Int) throws -> Image {
        try ImageDecoder.decode(contentsOf: paths[index], minimumWidth: minimumSide, minimumHeight: minimumSide,
                                output: channels == 1 ? .gray : .rgb)
    }

    /// Regular, non-hidden files under `directory` (recursively), sorted by path.
    static func files(under directory: String) -> [String] {
        let url = URL(fileURLWithPath: directory)
        guard let walker = FileManager.default.enumerator(
            at: url, includingPropertiesForKeys: [.isRegularFileKey], options: [.skipsHiddenFiles]) else { return [] }
        var found: [String] = []
        for case let file as URL in walker {
            if (try? file.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true {
                found.append(file.path)
            }
        }
        return found.sorted()
    }

    /// Non-hidden subdirectories of `directory`, sorted by name.
    static func subdirectories(of directory: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { name in
            var isDirectory: ObjCBool = false
            return !name.hasPrefix(".")
                && FileManager.default.fileExists(atPath: directory + "/" + name, isDirectory: &isDirectory)
                && isDirectory.boolValue
        }.sorted()
    }

    static func isDirectory(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
    }
}
