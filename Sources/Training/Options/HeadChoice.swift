import ArgumentParser

/// `finetune --head`: the classifier put on the encoder.
public enum HeadChoice: String, Codable, CaseIterable, Sendable, ExpressibleByArgument {
    /// One linear layer (torchvision's `fc`).
    case linear
    /// `fc.0`, ReLU, `fc.2`.
    case mlp
}
