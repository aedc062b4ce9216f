import Tensors

/// The SimCLR view pipeline (Chen et al. 2020, appendix A) with torchvision's semantics:
/// RandomResizedCrop -> horizontal flip -> ColorJitter (applied with probability 0.8, its four
/// adjustments in random order) -> RandomGrayscale -> GaussianBlur -> Solarize (off by default)
/// -> normalisation. Colour jitter strength s gives brightness, contrast and saturation 0.8 s and
/// hue 0.2 s. Gray (1-channel) images skip saturation, hue and grayscale.
///
/// The crop is resized with the triangle filter of `Resampler`: bilinear when upscaling and
/// antialiased when downscaling, as torchvision's resize of PIL images (`antialias=True`).
public struct SimCLRAugmentation: ViewTransform, Codable, Equatable, Sendable {
    /// Output side.
    public var size: Int
    /// Area fraction of the crop.
    public var cropScale: ClosedRange<Float> = 0.08...1
    /// Aspect ratio (width / height) of the crop, sampled log-uniformly.
    public var cropRatio: ClosedRange<Float> = (3.0 / 4.0)...(4.0 / 3.0)
    public var flipProbability: Float = 0.5
    /// Colour jitter strength s.
    public var jitterStrength: Float
    public var jitterProbability: Float = 0.8
    public var grayscaleProbability: Float = 0.2
    public var blurProbability: Float
    public var blurSigma: ClosedRange<Float> = 0.1...2
    /// Blur kernel size as a fraction of the output side (made odd).
    public var blurKernelFraction: Float = 0.1
    public var solarizeProbability: Float = 0
    public var solarizeThreshold: Float = 0.5
    public var normalization: Normalization

    /// SimCLR's defaults for `size`: strength 1.0 and blur with probability 0.5, or for small images
    /// (32 px or less, CIFAR-style) strength 0.5 and no blur.
    public init(size: Int = 224, strength: Float? = nil, normalization: Normalization = .none) {
        precondition(size > 0, "SimCLRAugmentation: size \(size)")
        self.size = size
        jitterStrength = strength ?? (size <= 32 ? 0.5 : 1.0)
        blurProbability = size <= 32 ? 0 : 0.5
        self.normalization = normalization
    }

    public var brightness: Float { 0.8 * jitterStrength }
    public var contrast: Float { 0.8 * jitterStrength }
    public var saturation: Float { 0.8 * jitterStrength }
    public var hue: Float { min(0.2 * jitterStrength, 0.5) }

    public var minimumDecodeSide: Int { size }

    /// The matching evaluation transform (same size and normalisation).
    public var evaluation: EvaluationTransform { EvaluationTransform(size: size, normalization: normalization) }

    public func apply(_ image: Image, random: inout RandomStream, into out: UnsafeMutablePointer<Float>,
                      scratch: AugmentScratch) {
        let c = image.channels, pixels = size * size
        let b = RandomResizedCrop.box(width: image.width, height: image.height, scale: cropScale, ratio: cropRatio,
                                      random: &random)
        let flip = random.bernoulli(flipProbability)
        Resampler.resize(image, box: .init(top: Double(b.top), left: Double(b.left), height: Double(b.height),
                                           width: Double(b.width)),
                         outHeight: size, outWidth: size, flip: flip,
                         limit: (b.top ..< b.top + b.height, b.left ..< b.left + b.width), into: out, scratch: scratch)

        if random.bernoulli(jitterProbability) {
            // torchvision draws the order and all four factors, then applies them in that order.
            var order: SIMD4<Int32> = [0, 1, 2, 3]
            for i in stride(from: 3, to: 0, by: -1) {
                let j = random.below(i + 1)
                let t = order[i]; order[i] = order[j]; order[j] = t
            }
            let fb = random.uniform(max(0, 1 - brightness), 1 + brightness)
            let fc = random.uniform(max(0, 1 - contrast), 1 + contrast)
            let fs = random.uniform(max(0, 1 - saturation), 1 + saturation)
            let fh = random.uniform(-hue, hue)
            for k in 0..<4 {
                switch order[k] {
                case 0: if brightness > 0 { ColorAdjust.brightness(out, pixels: pixels, channels: c, factor: fb) }
                case 1: if contrast > 0 { ColorAdjust.contrast(out, pixels: pixels, channels: c, factor: fc) }
                case 2: if saturation > 0 && c == 3 { ColorAdjust.saturation(out, pixels: pixels, factor: fs) }
                default: if hue > 0 && c == 3 { ColorAdjust.hue(out, pixels: pixels, factor: fh) }
                }
            }
        }
        if random.bernoulli(grayscaleProbability) && c == 3 {
            ColorAdjust.grayscale(out, pixels: pixels)
        }
        if random.bernoulli(blurProbability) {
            let sigma = random.uniform(blurSigma.lowerBound, blurSigma.upperBound)
            GaussianBlur.apply(out, height: size, width: size, channels: c,
                               kernelSize: GaussianBlur.kernelSize(side: size, fraction: blurKernelFraction),
                               sigma: sigma, scratch: scratch)
        }
        if random.bernoulli(solarizeProbability) {
            ColorAdjust.solarize(out, count: pixels * c, threshold: solarizeThreshold)
        }
        normalization.apply(out, pixels: pixels, channels: c)
    }
}
