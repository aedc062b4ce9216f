import Optim

/// How far a fine-tuning run got, saved in its last checkpoint so `--resume` continues the same
/// trajectory: the position in the epoch, the epoch's running training sums, the plateau
/// scheduler's state and the best validation result so far.
struct FineTuneProgress: Codable, Equatable {
    /// The epoch in progress (from 0); equal to the number of finished epochs when `step` is 0.
    var epoch = 0
    /// The next step of that epoch.
    var step = 0
    /// Optimiser steps taken in all (the cosine schedule's position).
    var globalStep = 0
    /// Sums over the epoch's finished steps, all ranks: loss·images, correct images, images.
    var lossSum = 0.0, hits = 0.0, count = 0.0
    var plateau: ReduceLROnPlateau?
    /// The epoch (from 1) of the best validation accuracy so far; 0 before the first epoch ends.
    var bestEpoch = 0
    var bestValAccuracy = 0.0
    var bestValLoss: Double?
    /// Seconds spent training before this point (over all resumed parts).
    var seconds = 0.0

    /// Whether a validation result beats the best so far: higher accuracy, or equal accuracy and a
    /// lower loss.
    func isImprovement(accuracy: Double, loss: Double) -> Bool {
        guard bestEpoch > 0, let bestLoss = bestValLoss else { return true }
        return accuracy > bestValAccuracy || (accuracy == bestValAccuracy && loss < bestLoss)
    }
}
