import ArgumentParser

/// `finetune --init`: where the encoder's weights come from when no `--weights` file is given.
public enum Initialization: String, Codable, CaseIterable, Sendable, ExpressibleByArgument {
    /// torchvision's random initialisation (the supervised and frozen-random baselines).
    case random
}
