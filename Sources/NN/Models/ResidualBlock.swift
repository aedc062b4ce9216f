import Tensors

/// A ResNet block: a main path of ConvBN pieces whose output is added to a shortcut (the input, or
/// a 1x1 ConvBN `downsample` where the shape changes), then ReLU.
///
/// A block's `backward` may overwrite the `dy` it is given (the ResNet passes each block a gradient
/// nothing else reads), so that a block holds as few activation-sized gradients as it can at once.
protocol ResidualBlock: Layer, WorkspaceOwner {
    var batchNorms: [BatchNorm] { get }
}
