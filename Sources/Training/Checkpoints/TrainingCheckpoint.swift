import Formats
import Foundation
import Optim
import Tensors

/// Everything needed to continue a run exactly: the model (torchvision names), the optimiser's state,
/// how far the run got, and its config, in one safetensors file written atomically.
public struct TrainingCheckpoint {
    public var step: Int
    public var epoch: Int
    public var configJSON: String

    static let prefix = "optimizer."

    /// Writes the model and optimiser state to `url` (temporary file, fsync, rename).
    public static func write(to url: URL, store: ParameterStore, optimizer: Optimizer, step: Int, epoch: Int,
                             configJSON: String, extraMetadata: [String: String] = [:]) throws {
        var file = SafeTensors(metadata: [
            "format": "pt", "simclr.kind": "checkpoint", "simclr.step": String(step), "simclr.epoch": String(epoch),
            "simclr.optimizer_steps": String(optimizer.stepCount), "simclr.config": configJSON,
        ].merging(extraMetadata) { a, _ in a })
        StateDict.export(store, into: &file)
        export(optimizer, into: &file)
        try save(file, to: url)
    }

    /// Adds the optimiser's state (moments, under `optimizer.*`) to a checkpoint file.
    static func export(_ optimizer: Optimizer, into file: inout SafeTensors) {
        for (name, tensor) in optimizer.state {
            file.set(prefix + name, shape: tensor.shape,
                     floats: UnsafeBufferPointer(start: tensor.data, count: tensor.count))
        }
    }

    /// Restores the optimiser's state from a checkpoint file read from `url`, and its step count.
    static func restore(_ optimizer: Optimizer, from file: SafeTensors, url: URL, steps: Int) throws {
        for (name, tensor) in optimizer.state {
            guard let info = file.info(prefix + name), info.count == tensor.count else {
                throw TrainingError.unreadableRunFolder(url.path, "optimizer state \(name) is missing or has another shape (was the optimizer changed?)")
            }
            try file.copyFloats(prefix + name, into: UnsafeMutableBufferPointer(start: tensor.data, count: tensor.count))
        }
        optimizer.stepCount = steps
    }

    /// Writes a checkpoint file atomically; a failure says whether an earlier checkpoint is still there.
    static func save(_ file: SafeTensors, to url: URL) throws {
        let earlier = FileManager.default.fileExists(atPath: url.path)
        do {
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try file.write(to: url)
        } catch {
            throw TrainingError.io("could not write checkpoint \(url.path): \(error); "
                                   + (earlier ? "the previous checkpoint is kept" : "the run has no checkpoint yet"))
        }
    }

    /// Restores model and optimiser from `url` and returns where the run was.
    public static func read(from url: URL, store: ParameterStore, optimizer: Optimizer) throws -> TrainingCheckpoint {
        let file: SafeTensors
        do { file = try SafeTensors(contentsOf: url) } catch {
            throw TrainingError.unreadableRunFolder(url.path, "\(error)")
        }
        guard file.metadata["simclr.kind"] == "checkpoint", let step = Int(file.metadata["simclr.step"] ?? ""),
              let epoch = Int(file.metadata["simclr.epoch"] ?? ""),
              let optimizerSteps = Int(file.metadata["simclr.optimizer_steps"] ?? ""),
              let config = file.metadata["simclr.config"] else {
            throw TrainingError.unreadableRunFolder(url.path, "not a checkpoint of this tool (or of an older version)")
        }
        try StateDict.load(file, into: store, include: { _ in true })
        try restore(optimizer, from: file, url: url, steps: optimizerSteps)
        return TrainingCheckpoint(step: step, epoch: epoch, configJSON: config)
    }
}
