import ArgumentParser

/// `finetune --scheduler`: how the learning rate moves during fine-tuning.
public enum SchedulerChoice: String, Codable, CaseIterable, Sendable, ExpressibleByArgument {
    /// ReduceLROnPlateau on the validation loss, once per epoch.
    case plateau
    /// Cosine decay per step, no warm-up.
    case cosine
    /// A constant rate (`none` on the command line).
    case constant = "none"
}
