import Foundation
import NN

/// What a step of a ResNet will hold in memory, estimated before anything is allocated, so that a
/// request that cannot fit (a huge batch or image size, or weights whose metadata claims one) is one
/// line saying what would fit instead of an allocation failure.
///
/// A training step keeps about `trainingFactor` floats for every convolution output of every image
/// it back-propagates (the output, BatchNorm's and the activation's, and their gradients in flight),
/// plus the parameters, their gradients and optimiser moments; an inference pass keeps a few of the
/// largest layer outputs at a time. The factors match `simclr bench step`'s peak memory on ResNet-18
/// and ResNet-50 to within a quarter.
public struct MemoryEstimate: Equatable {
    /// Bytes of the step's peak.
    public var bytes: Double

    static let trainingFactor = 2.2
    static let inferenceFactor = 5.0
    /// The process itself, the loader's ring and scratch buffers.
    static let baseBytes = 250e6

    /// A training step that back-propagates `images` images (views) at once.
    public static func trainingStep(_ model: ModelSpec, images: Int) -> MemoryEstimate {
        let (outputs, _) = convolutionOutputs(model)
        let parameters = Double(model.resNetConfig.parameterCountEstimate)
        return MemoryEstimate(bytes: baseBytes + 4 * (trainingFactor * outputs * Double(images) + 4 * parameters))
    }

    /// An inference pass over `images` images at once.
    public static func inference(_ model: ModelSpec, images: Int) -> MemoryEstimate {
        let (_, largest) = convolutionOutputs(model)
        let parameters = Double(model.resNetConfig.parameterCountEstimate)
        return MemoryEstimate(bytes: baseBytes + 4 * (inferenceFactor * largest * Double(images) + parameters))
    }

    /// Floats of every convolution output of one image, and of the largest one.
    static func convolutionOutputs(_ model: ModelSpec) -> (total: Double, largest: Double) {
        let config = model.resNetConfig
        var side = Double(model.imageSize)
        if config.stem == .imagenet { side = (side / 2).rounded(.up) }
        var total = Double(config.stemWidth) * side * side
        var largest = total
        if config.stem == .imagenet { side = (side / 2).rounded(.up) }
        for (stage, planes) in config.stageWidths.enumerated() {
            if stage > 0 { side = (side / 2).rounded(.up) }
            let blocks = config.depth.blockCounts[stage]
            let perBlock = config.depth.usesBottleneck ? Double(planes * 6) : Double(planes * 2)
            let shortcut = Double(planes * config.depth.expansion)
            total += side * side * (Double(blocks) * perBlock + shortcut)
            largest = max(largest, side * side * Double(planes * config.depth.expansion))
        }
        return (total, largest)
    }

    /// Bytes this machine can give a process now (`MemAvailable`), or nil where it cannot be read.
    public static func availableBytes() -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("MemAvailable:") {
            let fields = line.split(separator: " ")
            if fields.count >= 2, let kB = Double(fields[1]) { return kB * 1024 }
        }
        return nil
    }

    /// The estimate as people read it ("3.1 GB").
    public var description: String { Self.format(bytes) }

    static func format(_ bytes: Double) -> String {
        bytes >= 1e9 ? String(format: "%.1f GB", bytes / 1e9) : String(format: "%.0f MB", bytes / 1e6)
    }

    /// Throws, naming `what` and the largest number of images that would fit, when a step of
    /// `images` images (`estimate(images)`) needs more than `available` bytes.
    static func check(_ what: String, images: Int, available: Double?, suggestion: String,
                      estimate: (Int) -> MemoryEstimate) throws {
        guard let available else { return }
        let needed = estimate(images)
        guard needed.bytes > available else { return }
        // The estimate grows linearly with the images: solve for the most that fit.
        let fixed = estimate(0).bytes, perImage = estimate(1).bytes - fixed
        let fits = perImage > 0 ? min(images - 1, max(0, Int((available - fixed) / perImage))) : 0
        let advice = fits > 0 ? "at most \(fits) image(s) at once would fit (\(suggestion))"
            : "not even one image fits at this size; use a smaller --image-size"
        throw TrainingError.invalidOption(
            "\(what) needs about \(needed.description) of memory; this machine has \(format(available)) available: \(advice)")
    }
}

extension ResNetConfig {
    /// Parameters of the encoder, from its widths (convolutions only; BatchNorm and biases are few).
    var parameterCountEstimate: Int {
        var count = stemWidth * inputChannels * (stem == .imagenet ? 49 : 9)
        var inChannels = stemWidth
        for (stage, planes) in stageWidths.enumerated() {
            let out = planes * depth.expansion
            for block in 0..<depth.blockCounts[stage] {
                let input = block == 0 ? inChannels : out
                count += depth.usesBottleneck ? input * planes + planes * planes * 9 + planes * out
                    : input * planes * 9 + planes * planes * 9
                if block == 0 && (stage > 0 || input != out) { count += input * out }
            }
            inChannels = out
        }
        return count
    }
}
