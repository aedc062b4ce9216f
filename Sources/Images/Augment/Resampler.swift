/// Crop-and-resize with a separable triangle ("bilinear") filter, as Pillow's and torchvision's
/// `antialias=True` bilinear resize: when upscaling it is plain bilinear interpolation with
/// half-pixel centres (align_corners=False, edges clamped); when downscaling by a factor f the
/// filter's support widens to f input pixels, so every input pixel contributes (antialiasing).
///
/// The source box may be fractional (the evaluation transform's resize-then-centre-crop is one
/// resize of a fractional box). Filter taps are confined to `limit`: the crop itself for
/// RandomResizedCrop (torchvision crops, then resizes), the whole image for the evaluation resize.
public enum Resampler {
    /// A box in source pixels: rows `top ..< top + height`, columns `left ..< left + width`.
    public struct Box: Equatable, Sendable {
        public var top: Double, left: Double, height: Double, width: Double
        public init(top: Double, left: Double, height: Double, width: Double) {
            self.top = top; self.left = left; self.height = height; self.width = width
        }
    }

    /// Resizes `box` of `image` to `outHeight x outWidth`, writing floats in [0, 1] (pixel / 255).
    /// - Parameters:
    ///   - limit: the taps stay inside these rows / columns (default: the box, rounded outwards).
    ///   - flip: mirror left-right (RandomHorizontalFlip folded into the resize).
    ///   - out: `[outHeight, outWidth, image.channels]`.
    public static func resize(_ image: Image, box: Box, outHeight: Int, outWidth: Int, flip: Bool = false,
                              limit: (rows: Range<Int>, columns: Range<Int>)? = nil,
                              into out: UnsafeMutablePointer<Float>, scratch: AugmentScratch) {
        precondition(outHeight > 0 && outWidth > 0, "Resampler.resize: empty output \(outWidth)x\(outHeight)")
        precondition(box.height > 0 && box.width > 0 && box.top >= 0 && box.left >= 0
                     && box.top + box.height <= Double(image.height) + 1e-9
                     && box.left + box.width <= Double(image.width) + 1e-9,
                     "Resampler.resize: box \(box) outside a \(image.width)x\(image.height) image")
        let rows = limit?.rows ?? Int(box.top.rounded(.down)) ..< Int((box.top + box.height).rounded(.up))
        let columns = limit?.columns ?? Int(box.left.rounded(.down)) ..< Int((box.left + box.width).rounded(.up))
        let c = image.channels
        if box.width == Double(outWidth) && box.height == Double(outHeight)
            && box.top == box.top.rounded() && box.left == box.left.rounded() {
            copy(image, top: Int(box.top), left: Int(box.left), outHeight: outHeight, outWidth: outWidth,
                 flip: flip, into: out)
            return
        }
        // Filter tables: output i reads taps starting at start[i], count[i] of them, weights
        // w[i * maxTaps ..].
        let xTaps = maxTaps(box.width, outWidth), yTaps = maxTaps(box.height, outHeight)
        let xStart = scratch.indices(0, outWidth), xCount = scratch.indices(1, outWidth)
        let yStart = scratch.indices(2, outHeight), yCount = scratch.indices(3, outHeight)
        let xWeight = scratch.floats(0, outWidth * xTaps), yWeight = scratch.floats(1, outHeight * yTaps)
        table(start: box.left, length: box.width, out: outWidth, limit: columns, maxTaps: xTaps,
              starts: xStart, counts: xCount, weights: xWeight, gain: 1 / 255)
        table(start: box.top, length: box.height, out: outHeight, limit: rows, maxTaps: yTaps,
              starts: yStart, counts: yCount, weights: yWeight, gain: 1)
        let firstRow = Int(yStart[0])
        let lastRow = Int(yStart[outHeight - 1] + yCount[outHeight - 1])
        let rowFloats = outWidth * c
        // tmp: [lastRow - firstRow, outWidth, c], the horizontal pass over the rows the vertical taps read.
        let tmp = scratch.floats(2, (lastRow - firstRow) * rowFloats)
        image.pixels.withUnsafeBufferPointer { src in
            let src = src.baseAddress!
            let stride = image.width * c
            for y in firstRow..<lastRow {
                let inRow = src + y * stride
                let outRow = tmp + (y - firstRow) * rowFloats
                for ox in 0..<outWidth {
                    let x0 = Int(xStart[ox]), n = Int(xCount[ox])
                    let w = xWeight + ox * xTaps
                    let dst = outRow + (flip ? outWidth - 1 - ox : ox) * c
                    let p = inRow + x0 * c
                    if c == 3 {   // the three channels of a tap share its weight: one pass
                        var r: Float = 0, g: Float = 0, b: Float = 0
                        for k in 0..<n {
                            let wk = w[k], q = p + 3 * k
                            r += wk * Float(q[0])
                            g += wk * Float(q[1])
                            b += wk * Float(q[2])
                        }
                        dst[0] = r; dst[1] = g; dst[2] = b
                    } else {
                        var acc: Float = 0
                        for k in 0..<n { acc += w[k] * Float(p[k]) }
                        dst[0] = acc
                    }
                }
            }
        }
        for oy in 0..<outHeight {
            let dst = out + oy * rowFloats
            let y0 = Int(yStart[oy]) - firstRow, n = Int(yCount[oy])
            let w = yWeight + oy * yTaps
            let first = tmp + y0 * rowFloats, w0 = w[0]
            for i in 0..<rowFloats { dst[i] = w0 * first[i] }
            for k in 1..<n {
                let row = tmp + (y0 + k) * rowFloats, wk = w[k]
                for i in 0..<rowFloats { dst[i] += wk * row[i] }
            }
        }
    }

    /// The unscaled case, exactly pixel / 255 (a filter would round the weights).
    private static func copy(_ image: Image, top: Int, left: Int, outHeight: Int, outWidth: Int, flip: Bool,
                             into out: UnsafeMutablePointer<Float>) {
        let c = image.channels
        image.pixels.withUnsafeBufferPointer { src in
            for y in 0..<outHeight {
                let inRow = src.baseAddress! + ((top + y) * image.width + left) * c
                let outRow = out + y * outWidth * c
                for x in 0..<outWidth {
                    let dst = outRow + (flip ? outWidth - 1 - x : x) * c
                    for ch in 0..<c { dst[ch] = Float(inRow[x * c + ch]) / 255 }
                }
            }
        }
    }

    private static func maxTaps(_ length: Double, _ out: Int) -> Int {
        let support = max(length / Double(out), 1)
        return Int((2 * support).rounded(.up)) + 2
    }

    /// Triangle-filter taps for one axis: output i is centred at start + (i + 0.5) * scale.
    private static func table(start: Double, length: Double, out: Int, limit: Range<Int>, maxTaps: Int,
                              starts: UnsafeMutablePointer<Int32>, counts: UnsafeMutablePointer<Int32>,
                              weights: UnsafeMutablePointer<Float>, gain: Double) {
        let scale = length / Double(out)
        let support = max(scale, 1)
        for i in 0..<out {
            let center = start + (Double(i) + 0.5) * scale
            let lo = max(Int((center - support + 0.5).rounded(.down)), limit.lowerBound)
            let hi = min(Int((center + support + 0.5).rounded(.down)), limit.upperBound)
            var total = 0.0
            var n = 0
            for j in lo..<max(hi, lo) where n < maxTaps {
                let w = max(0, 1 - abs((Double(j) + 0.5 - center) / support))
                weights[i * maxTaps + n] = Float(w)
                total += w
                n += 1
            }
            if total <= 0 {   // a centre outside the limit: take the nearest pixel in it
                let j = min(max(Int(center.rounded(.down)), limit.lowerBound), limit.upperBound - 1)
                starts[i] = Int32(j)
                counts[i] = 1
                weights[i * maxTaps] = Float(gain)
                continue
            }
            let norm = gain / total
            for k in 0..<n { weights[i * maxTaps + k] = Float(Double(weights[i * maxTaps + k]) * norm) }
            starts[i] = Int32(lo)
            counts[i] = Int32(n)
        }
    }
}
