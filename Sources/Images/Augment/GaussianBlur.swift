import Foundation

/// torchvision's GaussianBlur on a float image: a separable kernel of `kernelSize` taps at
/// x = -(k-1)/2 ... (k-1)/2 weighted exp(-x^2 / 2 sigma^2), normalised, with reflect padding
/// (the edge pixel is not repeated).
public enum GaussianBlur {
    /// The odd kernel size for an image side: `fraction` of it (SimCLR: 10%), at least 3, and small
    /// enough for reflect padding.
    public static func kernelSize(side: Int, fraction: Float) -> Int {
        var k = Int(fraction * Float(side))
        if k % 2 == 0 { k += 1 }
        return min(max(k, 3), 2 * side - 1)
    }

    /// Blurs `x: [height, width, channels]` in place.
    public static func apply(_ x: UnsafeMutablePointer<Float>, height: Int, width: Int, channels: Int,
                             kernelSize: Int, sigma: Float, scratch: AugmentScratch) {
        precondition(kernelSize % 2 == 1, "GaussianBlur: kernel size \(kernelSize) must be odd")
        let half = kernelSize / 2
        precondition(half < height && half < width,
                     "GaussianBlur: kernel \(kernelSize) too large for \(width)x\(height) (reflect padding)")
        let kernel = scratch.floats(10, kernelSize)
        var total: Float = 0
        for j in 0..<kernelSize {
            let t = Float(j - half) / sigma
            kernel[j] = expf(-0.5 * t * t)
            total += kernel[j]
        }
        for j in 0..<kernelSize { kernel[j] /= total }
        // Outer taps below 1e-7 change no float result meaningfully (sigma 0.1 in a 23-tap kernel
        // leaves 3 taps): skip them.
        var skip = 0
        while skip < half && kernel[skip] < 1e-7 { skip += 1 }
        let rowFloats = width * channels
        // tmp: [height, width, channels], the vertical pass.
        let tmp = scratch.floats(11, height * rowFloats)
        for y in 0..<height {
            let dst = tmp + y * rowFloats
            for i in 0..<rowFloats { dst[i] = 0 }
            for j in skip..<(kernelSize - skip) {
                let src = x + reflect(y + j - half, height) * rowFloats, w = kernel[j]
                for i in 0..<rowFloats { dst[i] += w * src[i] }
            }
        }
        // Horizontal pass: each row is reflected into a padded copy once, then every tap is one
        // contiguous multiply-add over the row.
        let padded = scratch.floats(12, (width + 2 * half) * channels)
        for y in 0..<height {
            let src = tmp + y * rowFloats, dst = x + y * rowFloats
            for px in 0..<(width + 2 * half) {
                let from = src + reflect(px - half, width) * channels, to = padded + px * channels
                for ch in 0..<channels { to[ch] = from[ch] }
            }
            for i in 0..<rowFloats { dst[i] = 0 }
            for j in skip..<(kernelSize - skip) {
                let w = kernel[j], shifted = padded + j * channels
                for i in 0..<rowFloats { dst[i] += w * shifted[i] }
            }
        }
    }

    @inline(__always) private static func reflect(_ i: Int, _ n: Int) -> Int {
        i < 0 ? -i : (i >= n ? 2 * n - 2 - i : i)
    }
}
