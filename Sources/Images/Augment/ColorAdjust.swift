/// torchvision's colour operations on float images in [0, 1], in place: `x: [pixels, channels]`
/// with 1 or 3 channels. Formulas as `torchvision.transforms.functional` on tensors: every
/// adjustment is a blend `clamp(f * x + (1 - f) * other, 0, 1)` with black (brightness), the mean
/// of the grayscale image (contrast) or the pixel's own gray (saturation); hue rotates H in HSV.
public enum ColorAdjust {
    /// ITU-R 601 luma weights, as torchvision's rgb_to_grayscale.
    public static let grayWeights: (r: Float, g: Float, b: Float) = (0.2989, 0.587, 0.114)

    @inline(__always) static func clamp01(_ v: Float) -> Float { min(max(v, 0), 1) }

    /// x = clamp(f * x).
    public static func brightness(_ x: UnsafeMutablePointer<Float>, pixels: Int, channels: Int, factor: Float) {
        for i in 0..<pixels * channels { x[i] = clamp01(factor * x[i]) }
    }

    /// x = clamp(f * x + (1 - f) * m), m the mean of the grayscale image.
    public static func contrast(_ x: UnsafeMutablePointer<Float>, pixels: Int, channels: Int, factor: Float) {
        // Float partial sums over blocks of 256 pixels, added in Double: accurate and not serialised
        // on one Double chain.
        var sum = 0.0
        let (wr, wg, wb) = channels == 3 ? grayWeights : (1, 0, 0)
        var start = 0
        while start < pixels {
            let end = min(start + 256, pixels)
            var r: Float = 0, g: Float = 0, b: Float = 0
            if channels == 3 {
                for p in start..<end { r += x[3 * p]; g += x[3 * p + 1]; b += x[3 * p + 2] }
            } else {
                for p in start..<end { r += x[p] }
            }
            sum += Double(wr * r + wg * g + wb * b)
            start = end
        }
        let offset = (1 - factor) * Float(sum / Double(pixels))
        for i in 0..<pixels * channels { x[i] = clamp01(factor * x[i] + offset) }
    }

    /// x = clamp(f * x + (1 - f) * gray(x)) per pixel (RGB only).
    public static func saturation(_ x: UnsafeMutablePointer<Float>, pixels: Int, factor: Float) {
        let (wr, wg, wb) = grayWeights
        let keep = 1 - factor
        for p in 0..<pixels {
            let q = x + 3 * p
            let g = keep * (wr * q[0] + wg * q[1] + wb * q[2])
            q[0] = clamp01(factor * q[0] + g)
            q[1] = clamp01(factor * q[1] + g)
            q[2] = clamp01(factor * q[2] + g)
        }
    }

    /// Shifts the hue by `factor` turns (-0.5...0.5) in HSV space (RGB only).
    public static func hue(_ x: UnsafeMutablePointer<Float>, pixels: Int, factor: Float) {
        for p in 0..<pixels {
            let q = x + 3 * p
            let r = q[0], g = q[1], b = q[2]
            let maxc = max(r, max(g, b)), minc = min(r, min(g, b))
            let chroma = maxc - minc
            if chroma == 0 { continue }   // gray pixels have no hue to turn
            let s = chroma / maxc
            let rc = (maxc - r) / chroma, gc = (maxc - g) / chroma, bc = (maxc - b) / chroma
            var h: Float
            if maxc == r { h = bc - gc } else if maxc == g { h = 2 + rc - bc } else { h = 4 + gc - rc }
            h = h / 6 + 1 + factor   // in (0, 3): the turn, before wrapping into [0, 1)
            h -= h.rounded(.down)
            let v = maxc
            let h6 = h * 6
            let sector = h6.rounded(.down)
            let f = h6 - sector
            let pv = clamp01(v * (1 - s)), qv = clamp01(v * (1 - s * f)), tv = clamp01(v * (1 - s * (1 - f)))
            switch Int(sector) % 6 {
            case 0: q[0] = v; q[1] = tv; q[2] = pv
            case 1: q[0] = qv; q[1] = v; q[2] = pv
            case 2: q[0] = pv; q[1] = v; q[2] = tv
            case 3: q[0] = pv; q[1] = qv; q[2] = v
            case 4: q[0] = tv; q[1] = pv; q[2] = v
            default: q[0] = v; q[1] = pv; q[2] = qv
            }
        }
    }

    /// Replaces each RGB pixel by its gray value in all three channels.
    public static func grayscale(_ x: UnsafeMutablePointer<Float>, pixels: Int) {
        let (wr, wg, wb) = grayWeights
        for p in 0..<pixels {
            let q = x + 3 * p
            let g = wr * q[0] + wg * q[1] + wb * q[2]
            q[0] = g; q[1] = g; q[2] = g
        }
    }

    /// x = 1 - x where x >= threshold.
    public static func solarize(_ x: UnsafeMutablePointer<Float>, count: Int, threshold: Float) {
        for i in 0..<count where x[i] >= threshold { x[i] = 1 - x[i] }
    }
}
