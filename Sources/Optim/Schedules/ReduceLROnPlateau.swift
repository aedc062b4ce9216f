/// Reduces the learning rate when a monitored metric stops improving, with
/// torch.optim.lr_scheduler.ReduceLROnPlateau's semantics (one parameter group). Each `step(_:)`:
///
///     better = metric < best·(1 − threshold)     (min, rel)     metric < best − threshold   (min, abs)
///              metric > best·(1 + threshold)     (max, rel)     metric > best + threshold   (max, abs)
///     if better { best = metric; badEpochs = 0 } else { badEpochs += 1 }
///     if cooldownCounter > 0 { cooldownCounter −= 1; badEpochs = 0 }
///     if badEpochs > patience {
///         new = max(lr·factor, minLR); if lr − new > eps { lr = new }
///         cooldownCounter = cooldown; badEpochs = 0
///     }
///
/// `best` starts at +∞ (min) or −∞ (max). The whole value is `Codable`, to be saved with a checkpoint;
/// a non-finite `best` is written as the string "inf", "-inf" or "nan" so plain JSON can hold it.
public struct ReduceLROnPlateau: Codable, Equatable, Sendable {
    public enum Mode: String, Codable, Sendable { case min, max }
    public enum ThresholdMode: String, Codable, Sendable { case rel, abs }

    public let mode: Mode
    public let factor: Double
    public let patience: Int
    public let threshold: Double
    public let thresholdMode: ThresholdMode
    public let cooldown: Int
    public let minLR: Double
    public let eps: Double

    /// The current learning rate.
    public private(set) var lr: Double
    /// The best metric seen so far.
    public var best: Double { bestValue.value }
    /// Consecutive steps without improvement (torch's `num_bad_epochs`).
    public private(set) var numBadEpochs = 0
    /// Steps left before bad epochs count again.
    public private(set) var cooldownCounter = 0
    /// Steps taken.
    public private(set) var lastEpoch = 0

    private var bestValue: JSONDouble

    /// torch's defaults: mode min, factor 0.1, patience 10, threshold 1e-4 relative, no cooldown,
    /// min_lr 0, eps 1e-8.
    public init(lr: Double, mode: Mode = .min, factor: Double = 0.1, patience: Int = 10,
                threshold: Double = 1e-4, thresholdMode: ThresholdMode = .rel, cooldown: Int = 0,
                minLR: Double = 0, eps: Double = 1e-8) throws {
        guard factor < 1, factor >= 0 else {
            throw OptimError.invalidHyperparameter("plateau factor must be in [0, 1), got \(factor)")
        }
        guard patience >= 0, cooldown >= 0, threshold >= 0, minLR >= 0, eps >= 0, lr >= 0 else {
            throw OptimError.invalidHyperparameter(
                "plateau patience, cooldown, threshold, min lr, eps and lr must be non-negative")
        }
        self.lr = lr
        self.mode = mode
        self.factor = factor
        self.patience = patience
        self.threshold = threshold
        self.thresholdMode = thresholdMode
        self.cooldown = cooldown
        self.minLR = minLR
        self.eps = eps
        bestValue = JSONDouble(value: mode == .min ? .infinity : -.infinity)
    }

    /// Records the metric of one epoch; returns whether the learning rate was lowered.
    public mutating func step(_ metric: Double) -> Bool {
        lastEpoch += 1
        if isBetter(metric) {
            bestValue.value = metric
            numBadEpochs = 0
        } else {
            numBadEpochs += 1
        }
        if cooldownCounter > 0 {
            cooldownCounter -= 1
            numBadEpochs = 0
        }
        guard numBadEpochs > patience else { return false }
        let old = lr
        let new = Swift.max(old * factor, minLR)
        let reduced = old - new > eps
        if reduced { lr = new }
        cooldownCounter = cooldown
        numBadEpochs = 0
        return reduced
    }

    private func isBetter(_ metric: Double) -> Bool {
        switch (mode, thresholdMode) {
        case (.min, .rel): return metric < best * (1 - threshold)
        case (.min, .abs): return metric < best - threshold
        case (.max, .rel): return metric > best * (threshold + 1)
        case (.max, .abs): return metric > best + threshold
        }
    }

    private enum CodingKeys: String, CodingKey {
        case mode, factor, patience, threshold, thresholdMode, cooldown, minLR, eps
        case lr, numBadEpochs, cooldownCounter, lastEpoch
        case bestValue = "best"
    }
}

/// A Double that JSON can always hold: non-finite values are written as strings.
private struct JSONDouble: Codable, Equatable, Sendable {
    var value: Double

    init(value: Double) { self.value = value }

    init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let number = try? container.decode(Double.self) {
            value = number
        } else if let parsed = Double(try container.decode(String.self)) {
            value = parsed
        } else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "not a number")
        }
    }

    func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        if value.isFinite { try container.encode(value) } else { try container.encode(String(value)) }
    }
}
