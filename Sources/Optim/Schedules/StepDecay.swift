import Foundation

/// A per-epoch learning rate multiplied by γ every k epochs (torch.optim.lr_scheduler.StepLR):
/// `lr(e) = base·γ^⌊e/k⌋` for epoch e from 0.
public struct StepDecay: Codable, Equatable, Sendable {
    public let baseLR: Float
    public let gamma: Float
    public let stepEpochs: Int

    public init(baseLR: Float, gamma: Float = 0.1, stepEpochs: Int) throws {
        guard baseLR >= 0, gamma > 0, stepEpochs >= 1 else {
            throw OptimError.invalidHyperparameter(
                "step decay needs lr >= 0, gamma > 0 and a period >= 1 epoch, got \(baseLR), \(gamma), \(stepEpochs)")
        }
        self.baseLR = baseLR
        self.gamma = gamma
        self.stepEpochs = stepEpochs
    }

    /// The learning rate of epoch `epoch` (from 0).
    public func lr(epoch: Int) -> Float {
        Float(Double(baseLR) * pow(Double(gamma), Double(epoch / stepEpochs)))
    }
}
