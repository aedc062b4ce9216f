import Tensors

/// A ResNet block: a main path of ConvBN pieces whose output is added to a shortcut (the input, or
/// a 1x1 ConvBN `downsample` where the shape changes), then ReLU.
protocol ResidualBlock: Layer, WorkspaceOwner {
    var batchNorms: [BatchNorm] { get }
}
