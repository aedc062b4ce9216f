import Tensors

/// Turns one decoded image into one float view `[size, size, channels]` written straight into a
/// batch slot. All randomness comes from the stream passed in, which the loader keys by
/// (seed, epoch, global sample index, view).
public protocol ViewTransform {
    /// The side of the square output.
    var size: Int { get }
    /// Images are decoded at a reduced DCT scale as long as both sides stay at least this large.
    var minimumDecodeSide: Int { get }
    /// Writes the view of `image` into `out: [size, size, image.channels]`.
    func apply(_ image: Image, random: inout RandomStream, into out: UnsafeMutablePointer<Float>,
               scratch: AugmentScratch)
}
