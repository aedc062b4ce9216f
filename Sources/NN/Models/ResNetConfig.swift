/// What a ResNet is, as data: the depth picks the block kind and the blocks per stage, the stem
/// picks ImageNet's or CIFAR's first layers, and the width multiplier scales every channel count.
public struct ResNetConfig: Codable, Equatable, Sendable {
    public enum Depth: String, Codable, CaseIterable, Sendable {
        case resnet18, resnet34, resnet50

        /// Blocks in each of the four stages.
        public var blockCounts: [Int] {
            switch self {
            case .resnet18: return [2, 2, 2, 2]
            case .resnet34, .resnet50: return [3, 4, 6, 3]
            }
        }

        /// Bottleneck blocks (expansion 4) rather than basic blocks (expansion 1).
        public var usesBottleneck: Bool { self == .resnet50 }

        /// Output channels of a block per channel of its `planes`.
        public var expansion: Int { usesBottleneck ? Bottleneck.expansion : BasicBlock.expansion }
    }

    public enum Stem: String, Codable, CaseIterable, Sendable {
        /// 7x7 stride-2 convolution and 3x3 stride-2 max pooling (224-pixel images).
        case imagenet
        /// 3x3 stride-1 convolution, no pooling (32-pixel images).
        case cifar
    }

    public var depth: Depth
    public var stem: Stem
    /// Scales the base widths 64, 128, 256, 512 (e.g. 0.5, or 0.0625 for tests).
    public var widthMultiplier: Double
    public var inputChannels: Int
    /// Start each block's last BatchNorm weight at zero, so every block begins as the identity.
    public var zeroInitResidual: Bool

    public init(depth: Depth = .resnet50, stem: Stem = .imagenet, widthMultiplier: Double = 1,
                inputChannels: Int = 3, zeroInitResidual: Bool = false) {
        self.depth = depth; self.stem = stem; self.widthMultiplier = widthMultiplier
        self.inputChannels = inputChannels; self.zeroInitResidual = zeroInitResidual
    }

    /// `planes` of the four stages: (64, 128, 256, 512) · widthMultiplier, rounded, at least 1.
    public var stageWidths: [Int] {
        [64, 128, 256, 512].map { Swift.max(1, Int((Double($0) * widthMultiplier).rounded())) }
    }

    /// Channels of the stem's output.
    public var stemWidth: Int { stageWidths[0] }

    /// Length of the pooled feature vector: the last stage's planes times the block expansion.
    public var featureDimension: Int { stageWidths[3] * depth.expansion }
}
