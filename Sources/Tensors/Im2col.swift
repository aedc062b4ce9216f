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
    /// A 1x1 kernel without padding (a downsampling shortcut): each output position reads one
    /// pixel, every `stride`-th of every `stride`-th row.
    public var isPointwiseSampling: Bool { kh == 1 && kw == 1 && padding == 0 }
}

/// `im2col` for a 1x1 kernel without padding: a gather of every `stride`-th pixel, `c` floats each.
private func pointwiseIm2col(_ g: ConvGeometry, x: UnsafePointer<Float>, col: UnsafeMutablePointer<Float>,
                             images: Range<Int>) {
    let (h, w, c, oh, ow, stride) = (g.h, g.w, g.c, g.outH, g.outW, g.stride)
    parallelFor(images.count * oh, grain: 4) { range in
        for r in range {
            let n = images.lowerBound + r / oh, oy = r % oh
            let source = x + ((n * h + oy * stride) * w) * c
            let dst = col + r * ow * c
            for ox in 0..<ow { copyFloats(dst + ox * c, source + ox * stride * c, c) }
        }
    }
}

/// `col2im` for a 1x1 kernel without padding: each sampled pixel takes its one column row, and
/// every other pixel is zero (overwriting) or left as it is (accumulating; those rows are skipped).
private func pointwiseCol2im(_ g: ConvGeometry, col: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>,
                             images: Range<Int>, accumulate: Bool) {
    let (h, w, c, oh, ow, stride) = (g.h, g.w, g.c, g.outH, g.outW, g.stride)
    parallelFor(images.count * h, grain: 4) { range in
        for r in range {
            let local = r / h, iy = r % h
            let dst = dx + ((images.lowerBound + local) * h + iy) * w * c
            guard iy % stride == 0 else {
                if !accumulate { dst.initialize(repeating: 0, count: w * c) }
                continue
            }
            let source = col + (local * oh + iy / stride) * ow * c
            for ix in 0..<w {
                let pixel = dst + ix * c
                if ix % stride == 0 {
                    let entry = source + ix / stride * c
                    if accumulate { addFloats(pixel, entry, c) } else { copyFloats(pixel, entry, c) }
                } else if !accumulate {
                    zeroFloats(pixel, c)
                }
            }
        }
    }
}

/// Fills `col: [rows(images), kh*kw*C]` for `images` of `x: [N, H, W, C]`.
///
/// For one output position and kernel row, the taps `kx` that fall inside the image read
/// consecutive pixels, so they are one contiguous run of floats: one copy per kernel row, with
/// the padding on either side zero-filled, and no test per tap.
public func im2col(_ g: ConvGeometry, x: UnsafePointer<Float>, col: UnsafeMutablePointer<Float>,
                   images: Range<Int>) {
    if g.isPointwiseSampling {
        pointwiseIm2col(g, x: x, col: col, images: images)
        return
    }
    let (h, w, c, oh, ow) = (g.h, g.w, g.c, g.outH, g.outW)
    let (kh, kw, stride, padding) = (g.kh, g.kw, g.stride, g.padding)
    let patch = g.patch, run = kw * c
    parallelFor(images.count * oh, grain: 4) { range in
        for r in range {
            let n = images.lowerBound + r / oh, oy = r % oh
            let image = x + n * h * w * c
            var dst = col + (r * ow) * patch
            for ox in 0..<ow {
                let ix0 = ox * stride - padding
                // Taps lo..<hi are inside the image horizontally.
                let lo = Swift.min(kw, Swift.max(0, -ix0)), hi = Swift.max(lo, Swift.min(kw, w - ix0))
                for ky in 0..<kh {
                    let iy = oy * stride - padding + ky
                    if iy < 0 || iy >= h || lo == hi {
                        zeroFloats(dst, run)
                    } else {
                        zeroFloats(dst, lo * c)
                        copyFloats(dst + lo * c, image + (iy * w + ix0 + lo) * c, (hi - lo) * c)
                        zeroFloats(dst + hi * c, run - hi * c)
                    }
                    dst += run
                }
            }
        }
    }
}

/// The adjoint of `im2col`: sends each column entry back to its pixel of `dx: [N, H, W, C]` for
/// `images`, adding to what `dx` holds (`accumulate`) or replacing it.
///
/// Gathers rather than scatters: each pixel sums the entries of the output positions that read it,
/// in the order of the column rows (so the result equals `referenceCol2im` exactly), and is
/// written once. Pixels are independent, so rows of pixels run in parallel.
public func col2im(_ g: ConvGeometry, col: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>,
                   images: Range<Int>, accumulate: Bool = true) {
    if g.isPointwiseSampling {
        pointwiseCol2im(g, col: col, dx: dx, images: images, accumulate: accumulate)
        return
    }
    let (h, w, c, oh, ow) = (g.h, g.w, g.c, g.outH, g.outW)
    let (kh, kw, stride, padding) = (g.kh, g.kw, g.stride, g.padding)
    let patch = g.patch
    // Per input column ix: the offsets `ox*patch + kx*c` (within a column row block) of the taps
    // that read it, by increasing ox; likewise per input row iy: `oy*ow*patch + ky*kw*c`.
    withUnsafeTemporaryAllocation(of: Int.self, capacity: w * (kw + 1) + h * (kh + 1)) { table in
        let xTaps = table.baseAddress!, xCounts = xTaps + w * kw
        let yTaps = xCounts + w, yCounts = yTaps + h * kh
        func fill(_ taps: UnsafeMutablePointer<Int>, _ counts: UnsafeMutablePointer<Int>, size: Int, k: Int,
                  outSize: Int, offset: (Int, Int) -> Int) {
            for i in 0..<size {
                var count = 0
                // i = o*stride - padding + t, so o ascends as the tap t descends.
                for t in Swift.stride(from: k - 1, through: 0, by: -1) {
                    let shifted = i + padding - t
                    guard shifted >= 0 && shifted % stride == 0 && shifted / stride < outSize else { continue }
                    taps[i * k + count] = offset(shifted / stride, t)
                    count += 1
                }
                counts[i] = count
            }
        }
        fill(xTaps, xCounts, size: w, k: kw, outSize: ow) { ox, kx in ox * patch + kx * c }
        fill(yTaps, yCounts, size: h, k: kh, outSize: oh) { oy, ky in oy * ow * patch + ky * kw * c }
        parallelFor(images.count * h, grain: 4) { range in
            for r in range {
                let local = r / h, iy = r % h
                let n = images.lowerBound + local
                let imageColumns = col + (local * oh * ow) * patch
                let ys = yTaps + iy * kh, ny = yCounts[iy]
                var dst = dx + (n * h + iy) * w * c
                for ix in 0..<w {
                    let xs = xTaps + ix * kw, nx = xCounts[ix]
                    var j = 0
                    while j + 16 <= c {
                        var acc = accumulate ? load16(dst + j) : SIMD16<Float>()
                        for a in 0..<ny {
                            let rowTaps = imageColumns + ys[a] + j
                            for b in 0..<nx { acc += load16(rowTaps + xs[b]) }
                        }
                        store16(dst + j, acc)
                        j += 16
                    }
                    while j < c {
                        var acc: Float = accumulate ? dst[j] : 0
                        for a in 0..<ny {
                            let rowTaps = imageColumns + ys[a] + j
                            for b in 0..<nx { acc += rowTaps[xs[b]] }
                        }
                        dst[j] = acc
                        j += 1
                    }
                    dst += c
                }
            }
        }
    }
}

@inline(__always)
private func load16(_ p: UnsafePointer<Float>) -> SIMD16<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
}

@inline(__always)
private func store16(_ p: UnsafeMutablePointer<Float>, _ v: SIMD16<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD16<Float>.self)
}

/// Copies `n` floats; runs of a few channels are too short to pay for a `memmove` call.
@inline(__always)
private func copyFloats(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>, _ n: Int) {
    if n >= 256 {
        dst.update(from: src, count: n)
        return
    }
    var i = 0
    while i + 16 <= n {
        store16(dst + i, load16(src + i))
        i += 16
    }
    while i < n {
        dst[i] = src[i]
        i += 1
    }
}

/// `dst[i] += src[i]` over `n` floats.
@inline(__always)
private func addFloats(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>, _ n: Int) {
    var i = 0
    while i + 16 <= n {
        store16(dst + i, load16(dst + i) + load16(src + i))
        i += 16
    }
    while i < n {
        dst[i] += src[i]
        i += 1
    }
}

@inline(__always)
private func zeroFloats(_ dst: UnsafeMutablePointer<Float>, _ n: Int) {
    var i = 0
    while i + 16 <= n {
        store16(dst + i, SIMD16<Float>())
        i += 16
    }
    while i < n {
        dst[i] = 0
        i += 1
    }
}

/// The plain loop `im2col` must agree with exactly (one copy per tap, bounds checked per tap); kept for tests.
public func referenceIm2col(_ g: ConvGeometry, x: UnsafePointer<Float>, col: UnsafeMutablePointer<Float>,
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

/// The plain loop `col2im` must agree with exactly: scatters each column entry into its pixel, adding
/// to what `dx` holds, in the order of the column rows; kept for tests.
public func referenceCol2im(_ g: ConvGeometry, col: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>,
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
