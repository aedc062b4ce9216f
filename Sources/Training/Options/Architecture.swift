import ArgumentParser
import NN

/// `--arch`: the encoder's architecture, as torchvision names it.
public enum Architecture: String, Codable, CaseIterable, Sendable, ExpressibleByArgument {
    case resnet18, resnet34, resnet50

    /// The ResNet depth this architecture builds.
    public var resNetDepth: ResNetConfig.Depth {
        switch self {
        case .resnet18: return .resnet18
        case .resnet34: return .resnet34
        case .resnet50: return .resnet50
        }
    }
}
