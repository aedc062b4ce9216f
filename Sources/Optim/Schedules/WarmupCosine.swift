import Foundation

/// A per-step learning rate: linear warm-up, then cosine decay (SimCLR's schedule). For step s
/// (from 0), W warm-up steps and T total steps:
///
///     lr(s) = base·(s + 1)/W                                          s < W
///     lr(s) = final + (base − final)·(1 + cos(π·min(s − W, T − W)/(T − W)))/2     s ≥ W
///
/// so the warm-up ends at `base` on step W − 1, decay starts from `base` on step W and reaches
/// `final` at step T (and stays there).
public struct WarmupCosine: Codable, Equatable, Sendable {
    public let baseLR: Float
    public let finalLR: Float
    public let warmupSteps: Int
    public let totalSteps: Int

    public init(baseLR: Float, warmupSteps: Int, totalSteps: Int, finalLR: Float = 0) throws {
        guard baseLR >= 0, finalLR >= 0 else {
            throw OptimError.invalidHyperparameter("learning rates must be non-negative, got \(baseLR) and \(finalLR)")
        }
        guard warmupSteps >= 0, totalSteps > warmupSteps else {
            throw OptimError.invalidHyperparameter(
                "warm-up (\(warmupSteps) steps) must be shorter than the run (\(totalSteps) steps)")
        }
        self.baseLR = baseLR
        self.finalLR = finalLR
        self.warmupSteps = warmupSteps
        self.totalSteps = totalSteps
    }

    /// The learning rate of step `step` (from 0).
    public func lr(step: Int) -> Float {
        let base = Double(baseLR), final = Double(finalLR)
        if step < warmupSteps { return Float(base * Double(step + 1) / Double(warmupSteps)) }
        let decaySteps = Double(totalSteps - warmupSteps)
        let progress = Swift.min(Double(step - warmupSteps), decaySteps) / decaySteps
        return Float(final + (base - final) * 0.5 * (1 + cos(Double.pi * progress)))
    }
}
