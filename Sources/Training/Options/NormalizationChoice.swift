import ArgumentParser
import Images

/// `--normalize`: `auto` (the data's own statistics), `none`, `imagenet`, or `MEAN/STD` with one
/// value per channel or one for all (`0.5/0.25`, `0.49,0.48,0.45/0.25,0.24,0.26`).
public enum NormalizationChoice: Equatable, Sendable, ExpressibleByArgument, CustomStringConvertible {
    case auto
    /// No normalisation (`none` on the command line).
    case identity
    case imagenet
    case explicit(mean: [Float], std: [Float])

    public init?(argument: String) {
        switch argument {
        case "auto": self = .auto
        case "none": self = .identity
        case "imagenet": self = .imagenet
        default:
            let parts = argument.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 2 else { return nil }
            let fields = parts.map { $0.split(separator: ",", omittingEmptySubsequences: false) }
            let values = fields.map { $0.compactMap { Float($0) }.filter(\.isFinite) }
            guard !values[0].isEmpty, values[0].count == fields[0].count, values[1].count == fields[1].count,
                  values[0].count == values[1].count, values[1].allSatisfy({ $0 > 0 }) else { return nil }
            self = .explicit(mean: values[0], std: values[1])
        }
    }

    public static var defaultCompletionKind: CompletionKind { .list(["auto", "none", "imagenet"]) }

    public var description: String {
        switch self {
        case .auto: return "auto"
        case .identity: return "none"
        case .imagenet: return "imagenet"
        case .explicit(let mean, let std):
            return mean.map { "\($0)" }.joined(separator: ",") + "/" + std.map { "\($0)" }.joined(separator: ",")
        }
    }

    /// The normalisation for images of `channels` channels; `data` computes `auto`'s statistics
    /// and is called only for `auto`.
    public func resolve(channels: Int, data: () throws -> Normalization) throws -> Normalization {
        switch self {
        case .auto: return try data()
        case .identity: return .none
        case .imagenet: return .imageNet
        case .explicit(let mean, let std):
            guard [1, channels].contains(mean.count) else {
                throw TrainingError.invalidOption(
                    "--normalize \(self) has \(mean.count) value(s) each; the images have \(channels) channel(s) (give 1 or \(channels))")
            }
            return Normalization(mean: mean, std: std)
        }
    }
}
