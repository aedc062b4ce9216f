import ArgumentParser

/// `--bn`: BatchNorm's batch statistics across every rank's images, or each rank's own.
public enum BatchNormStatistics: String, Codable, CaseIterable, Sendable, ExpressibleByArgument {
    case sync, local
}
