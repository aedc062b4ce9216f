import Formats
import Foundation
import Optim

/// `checkpoints/last.safetensors` of a fine-tuning run: the whole classifier under torchvision names
/// (so `evaluate` accepts it as well), the optimiser's state under `optimizer.*`, the run's
/// `FineTuneProgress` and config, written atomically.
enum ClassifierCheckpoint {
    static let progressKey = "simclr.finetune_progress"

    /// Writes the checkpoint (temporary file, fsync, rename); `optimizer` is nil for an L-BFGS fit.
    static func write(to url: URL, classifier: Classifier, optimizer: Optimizer?, progress: FineTuneProgress,
                      configJSON: String) throws {
        var meta = classifier.metadata
        meta["simclr.kind"] = "checkpoint"
        meta["simclr.config"] = configJSON
        meta[progressKey] = String(decoding: try JSONEncoder().encode(progress), as: UTF8.self)
        meta["simclr.optimizer_steps"] = String(optimizer?.stepCount ?? 0)
        var file = SafeTensors(metadata: meta)
        classifier.export(into: &file)
        if let optimizer { TrainingCheckpoint.export(optimizer, into: &file) }
        try TrainingCheckpoint.save(file, to: url)
    }

    /// Restores classifier and optimiser from `url`; returns the progress and the saved config.
    static func read(from url: URL, classifier: Classifier, optimizer: Optimizer?) throws
        -> (progress: FineTuneProgress, configJSON: String) {
        let file: SafeTensors
        do { file = try SafeTensors(contentsOf: url) } catch {
            throw TrainingError.unreadableRunFolder(url.path, "\(error)")
        }
        guard file.metadata["simclr.kind"] == "checkpoint", let config = file.metadata["simclr.config"],
              let progressJSON = file.metadata[progressKey],
              let progress = try? JSONDecoder().decode(FineTuneProgress.self, from: Data(progressJSON.utf8)),
              let steps = Int(file.metadata["simclr.optimizer_steps"] ?? "") else {
            throw TrainingError.unreadableRunFolder(url.path, "not a fine-tuning checkpoint of this tool")
        }
        try classifier.load(file)
        if let optimizer { try TrainingCheckpoint.restore(optimizer, from: file, url: url, steps: steps) }
        return (progress, config)
    }
}
