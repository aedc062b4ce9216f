import Formats
import Foundation

/// A weights file named by `--weights`, opened with a one-line error for a missing or unreadable one.
enum WeightsFile {
    static func open(_ path: String) throws -> SafeTensors {
        guard FileManager.default.fileExists(atPath: path) else {
            throw TrainingError.invalidOption("--weights \(path) does not exist")
        }
        do { return try SafeTensors(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw TrainingError.invalidOption("--weights \(path) is not a safetensors file: \(error)")
        }
    }
}
