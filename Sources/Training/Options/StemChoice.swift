import ArgumentParser
import NN

/// `--stem`: the ResNet's first layers, or `auto` to choose by image size.
public enum StemChoice: String, Codable, CaseIterable, Sendable, ExpressibleByArgument {
    case auto, imagenet, cifar

    /// The stem for inputs of `imageSize` pixels: `auto` picks the CIFAR stem for images of 64
    /// pixels or less, as small images lose too much to a stride-4 stem.
    public func resolve(imageSize: Int) -> ResNetConfig.Stem {
        switch self {
        case .auto: return imageSize <= 64 ? .cifar : .imagenet
        case .imagenet: return .imagenet
        case .cifar: return .cifar
        }
    }
}

extension ResNetConfig.Stem: ExpressibleByArgument {}
