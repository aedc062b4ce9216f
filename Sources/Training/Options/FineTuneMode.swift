import ArgumentParser

/// `finetune --mode`.
public enum FineTuneMode: String, Codable, CaseIterable, Sendable, ExpressibleByArgument {
    /// Everything trains.
    case full
    /// The encoder is frozen (evaluation mode); only the head trains.
    case linear
}
