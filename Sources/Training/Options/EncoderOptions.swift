import ArgumentParser
import Foundation

/// The weights of a frozen encoder, and what to assume about a file that does not describe its
/// network (`simclr knn`, `simclr embed`).
public struct EncoderOptions: ParsableArguments {
    @Option(help: "Encoder weights (safetensors, torchvision names; prefixes such as module. or backbone. are stripped, a classifier fc is ignored).")
    public var weights: String

    @OptionGroup public var model: ModelOptions

    public init() {}

    public func validate() throws {
        guard FileManager.default.fileExists(atPath: weights) else {
            throw ValidationError("--weights \(weights) does not exist")
        }
    }

    /// Builds the encoder; `log` gets what happened to the file's names and what was built.
    public func open(seed: UInt64, log: (String) -> Void) throws -> EmbeddingEncoder {
        let encoder = try EmbeddingEncoder(weights: weights, request: model.request, seed: seed)
        for line in encoder.messages { log(line) }
        log("encoder: \(encoder.summary)")
        return encoder
    }
}
