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
        let rowFloats = width * channels
        // tmp: [height, width, channels], the vertical pass.
        let tmp = scratch.floats(11, height * rowFloats)
        for y in 0..<height {
            let dst = tmp + y * rowFloats
            for i in 0..<rowFloats { dst[i] = 0 }
            for j in 0..<kernelSize {
                let src = x + reflect(y + j - half, height) * rowFloats, w = kernel[j]
                for i in 0..<rowFloats { dst[i] += w * src[i] }
            }
        }
        for y in 0..<height {
            let src = tmp + y * rowFloats, dst = x + y * rowFloats
            for xx in 0..<width {
                for ch in 0..<channels {
                    var acc: Float = 0
                    for j in 0..<kernelSize {
                        acc += kernel[j] * src[reflect(xx + j - half, width) * channels + ch]
                    }
                    dst[xx * channels + ch] = acc
                }
            }
        }
    }

    @inline(__always) private static func reflect(_ i: Int, _ n: Int) -> Int {
        i < 0 ? -i : (i >= n ? 2 * n - 2 - i : i)
    }
}
