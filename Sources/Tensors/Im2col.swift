/// Channels-last im2col and its adjoint col2im for a convolution over `[N, H, W, C]` images.
///
/// The column matrix has one row per output position `(n, oy, ox)` and `kh * kw * c` columns ordered
/// `(ky, kx, c)`, so each tap copies a whole run of `c` contiguous channels. Weights are stored to
/// match, as `[Cout, kh, kw, Cin]` (torchvision's `[Cout, Cin, kh, kw]` is permuted on load/save).
public struct ConvGeometry: Equatable, Sendable {
    public var n, h, w, c: Int
    public var kh, kw, stride, padding: Int

    public init(n: Int, h: Int, w: Int, c: Int, kh: Int, kw: Int, stride: Int, padding: Int) {
        self.n = n; self.h = h; self.w = w; self.c = c
        self.kh = kh; self.kw = kw; self.stride = stride; self.padding = padding
    }

    public var outH: Int { (h + 2 * padding - kh) / stride + 1 }
    public var outW: Int { (w + 2 * padding - kw) / stride + 1 }
    /// Rows of the column matrix: output positions.
    public var rows: Int { n * outH * outW }
    /// Columns of the column matrix: one per weight of an output channel.
    public var patch: Int { kh * kw * c }
}

/// Fills `col: [rows(images), kh*kw*C]` for images `first..<first+count` of `x: [N, H, W, C]`.
public func im2col(_ g: ConvGeometry, x: UnsafePointer<Float>, col: UnsafeMutablePointer<Float>,
                   images: Range<Int>) {
    let (h, w, c, oh, ow) = (g.h, g.w, g.c, g.outH, g.outW)
    let patch = g.patch
    parallelFor(images.count * oh, grain: 4) { range in
        for r in range {
            let n = images.lowerBound + r / oh, oy = r % oh
            let image = x + n * h * w * c
            var dst = col + (r * ow) * patch
            for ox in 0..<ow {
                for ky in 0..<g.kh {
                    let iy = oy * g.stride - g.padding + ky
                    for kx in 0..<g.kw {
                        let ix = ox * g.stride - g.padding + kx
                        if iy >= 0 && iy < h && ix >= 0 && ix < w {
                            dst.update(from: image + (iy * w + ix) * c, count: c)
                        } else {
                            dst.update(repeating: 0, count: c)
                        }
                        dst += c
                    }
                }
            }
        }
    }
}

/// The adjoint of `im2col`: adds each column entry back into `dx: [N, H, W, C]` (which it does not
/// clear) for images `images`.
public func col2im(_ g: ConvGeometry, col: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>,
                   images: Range<Int>) {
    let (h, w, c, oh, ow) = (g.h, g.w, g.c, g.outH, g.outW)
    let patch = g.patch
    // Parallel over images: two output rows of one image can touch the same input pixels.
    parallelFor(images.count) { range in
        for local in range {
            let n = images.lowerBound + local
            let image = dx + n * h * w * c
            var src = col + (local * oh * ow) * patch
            for oy in 0..<oh {
                for ox in 0..<ow {
                    for ky in 0..<g.kh {
                        let iy = oy * g.stride - g.padding + ky
                        for kx in 0..<g.kw {
                            let ix = ox * g.stride - g.padding + kx
                            if iy >= 0 && iy < h && ix >= 0 && ix < w {
                                let d = image + (iy * w + ix) * c
                                for i in 0..<c { d[i] += src[i] }
                            }
                            src += c
                        }
                    }
                }
            }
        }
    }
}
