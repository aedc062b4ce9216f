import Tensors

/// Which kernels a network's convolutions run, chosen when the network is built and kept by each
/// `Conv2d`. `.default` is what training uses; benchmarks and tests pick others to compare paths.
public struct KernelPolicy: Equatable, Sendable {
    /// Whether 3x3 stride-1 padding-1 convolutions with at least `winogradMinimumChannels` input and
    /// output channels take the Winograd F(4x4, 3x3) path for the forward pass and both gradients
    /// (`WinogradConvolution`), or the im2col path like every other convolution.
    public var winograd: Bool
    /// Convolutions with fewer input or output channels than this stay on the im2col path even with
    /// `winograd`: the products' inner dimension is the channel count (`Cin` forward, `Cout` for the
    /// input gradient), and the transforms fill only part of their 16 lanes: a 3-channel stem runs
    /// several times slower by Winograd than by im2col.
    public var winogradMinimumChannels: Int
    /// Whether a convolution with fewer than `winogradMinimumChannels` input channels (a network's
    /// first layer) and a multiple of 16 output channels computes its forward pass directly
    /// (`DirectConvolution`) instead of by im2col and a product whose inner dimension is only
    /// `kh·kw·Cin`. Built for AVX2 and FMA: set only where `CPU.hasAVX2AndFMA`.
    public var directFirstLayer: Bool

    public init(winograd: Bool = true, winogradMinimumChannels: Int = 16,
                directFirstLayer: Bool = CPU.hasAVX2AndFMA) {
        precondition(winogradMinimumChannels > 0, "KernelPolicy: winogradMinimumChannels must be positive")
        self.winograd = winograd
        self.winogradMinimumChannels = winogradMinimumChannels
        self.directFirstLayer = directFirstLayer
    }

    /// Winograd for 3x3 stride-1 convolutions of 16 or more channels, and the direct first layer
    /// where the CPU has AVX2 and FMA.
    public static let `default` = KernelPolicy()
}
