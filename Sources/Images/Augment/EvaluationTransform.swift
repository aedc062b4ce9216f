import Tensors

/// The evaluation view: resize the shorter side to `resizeShorterSide`, then take the centre
/// `size x size` crop (torchvision's Resize + CenterCrop), then normalise. Done as one resize of the
/// matching source box, so an image already at the target size passes through unchanged.
public struct EvaluationTransform: ViewTransform, Codable, Equatable, Sendable {
    public var size: Int
    public var resizeShorterSide: Int
    public var normalization: Normalization

    /// By default the shorter side goes to `size / 0.875` (256 for 224), or to `size` for small
    /// images (32 px or less), where cropping would lose too much.
    public init(size: Int, resizeShorterSide: Int? = nil, normalization: Normalization = .none) {
        let resize = resizeShorterSide ?? (size <= 32 ? size : Int((Double(size) / 0.875).rounded()))
        precondition(size > 0 && resize >= size, "EvaluationTransform: resize \(resize) below crop \(size)")
        self.size = size
        self.resizeShorterSide = resize
        self.normalization = normalization
    }

    public var minimumDecodeSide: Int { resizeShorterSide }

    public func apply(_ image: Image, random: inout RandomStream, into out: UnsafeMutablePointer<Float>,
                      scratch: AugmentScratch) {
        let w = image.width, h = image.height
        // The resized size as torchvision computes it (the longer side truncated).
        let rw = w <= h ? resizeShorterSide : resizeShorterSide * w / h
        let rh = w <= h ? resizeShorterSide * h / w : resizeShorterSide
        let top = Int((Double(rh - size) / 2).rounded(.toNearestOrEven))
        let left = Int((Double(rw - size) / 2).rounded(.toNearestOrEven))
        let sy = Double(h) / Double(rh), sx = Double(w) / Double(rw)
        Resampler.resize(image, box: .init(top: Double(top) * sy, left: Double(left) * sx,
                                           height: Double(size) * sy, width: Double(size) * sx),
                         outHeight: size, outWidth: size, limit: (0..<h, 0..<w), into: out, scratch: scratch)
        normalization.apply(out, pixels: size * size, channels: image.channels)
    }
}
