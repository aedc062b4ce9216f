import ArgumentParser

/// `pretrain --optimizer`.
public enum PretrainOptimizer: String, Codable, CaseIterable, Sendable, ExpressibleByArgument {
    /// SGD with momentum and layer-wise trust ratios (biases and BatchNorm excluded).
    case lars
    case adam
    case adamw
    /// SGD with momentum 0.9.
    case sgd
}
