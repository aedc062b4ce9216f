import ArgumentParser

/// `finetune --optimizer`.
public enum FineTuneOptimizer: String, Codable, CaseIterable, Sendable, ExpressibleByArgument {
    case adam
    /// SGD with momentum 0.9.
    case sgd
    /// A multinomial logistic regression fitted by L-BFGS on cached features (linear mode only).
    case lbfgs
}
