import ArgumentParser

/// `finetune --augment`: the training images' view.
public enum FineTuneAugment: String, Codable, CaseIterable, Sendable, ExpressibleByArgument {
    /// The evaluation view: resize and centre crop (`none` on the command line).
    case evaluationView = "none"
    /// A random resized crop (area 0.5-1) and a horizontal flip.
    case light
}
