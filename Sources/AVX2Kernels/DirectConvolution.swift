import Tensors

/// A convolution with few input channels (a network's first layer) computed directly, one output
/// pixel's channels at a time in vector registers, instead of im2col and a matrix product.
///
/// This module is compiled for AVX2 and FMA (`-target-cpu haswell`, see Package.swift), so its
/// `addingProduct` is one fused instruction; callers must check the CPU first (`Conv2d` does).
/// With only `kh·kw·Cin` (27 for a 3-channel 3x3 stem) as the products' inner dimension, im2col's
/// copy and OpenBLAS's packing of it cost as much as the arithmetic; here each input float is
/// broadcast from L1 and multiplied into 16 output channels of 4 pixels held in 8 registers.
public enum DirectConvolution {
    /// Output channels handled by one pass over a pixel's taps.
    public static let channelBlock = 16

    /// Floats of scratch `forwardRows` needs: the zero-padded input rows one output row reads.
    public static func scratchFloats(_ g: ConvGeometry) -> Int {
        g.kh * (g.w + 2 * g.padding) * g.c
    }

    /// Output rows `rows` (each `(image, oy)`, `image * OH + oy`) of `y: [N, OH, OW, Cout]` for
    /// `x: [N, H, W, C]`.
    /// - Parameters:
    ///   - weights: `[kh·kw·C, Cout]`, the weights transposed so each tap's output channels are contiguous.
    ///   - bias: `[Cout]` or nil; `cout` must be a multiple of `channelBlock`.
    ///   - scratch: `scratchFloats(g)` floats.
    public static func forwardRows(_ rows: Range<Int>, _ g: ConvGeometry, x: UnsafePointer<Float>,
                                   weights: UnsafePointer<Float>, bias: UnsafePointer<Float>?, cout: Int,
                                   y: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>) {
        precondition(cout % channelBlock == 0, "DirectConvolution: \(cout) output channels")
        let (h, w, c, kh, kw, stride, padding) = (g.h, g.w, g.c, g.kh, g.kw, g.stride, g.padding)
        let (oh, ow) = (g.outH, g.outW)
        let paddedRow = (w + 2 * padding) * c
        for r in rows {
            let image = x + (r / oh) * h * w * c, oy = r % oh
            // The kh input rows this output row reads, with `padding` zero pixels either side (and
            // all zero above or below the image), so the taps need no bounds tests.
            for ky in 0..<kh {
                let dst = scratch + ky * paddedRow, iy = oy * stride - padding + ky
                if iy < 0 || iy >= h {
                    dst.initialize(repeating: 0, count: paddedRow)
                } else {
                    dst.initialize(repeating: 0, count: padding * c)
                    (dst + padding * c).update(from: image + iy * w * c, count: w * c)
                    (dst + padding * c + w * c).initialize(repeating: 0, count: padding * c)
                }
            }
            let out = y + r * ow * cout
            var ox = 0
            while ox + 4 <= ow {
                for block in Swift.stride(from: 0, to: cout, by: channelBlock) {
                    fourPixels(scratch + ox * stride * c, pixelStep: stride * c, paddedRow: paddedRow,
                               kh: kh, tapRun: kw * c, weights: weights + block, cout: cout,
                               bias: bias.map { $0 + block }, out: out + ox * cout + block)
                }
                ox += 4
            }
            while ox < ow {
                for block in Swift.stride(from: 0, to: cout, by: channelBlock) {
                    onePixel(scratch + ox * stride * c, paddedRow: paddedRow, kh: kh, tapRun: kw * c,
                             weights: weights + block, cout: cout, bias: bias.map { $0 + block },
                             out: out + ox * cout + block)
                }
                ox += 1
            }
        }
    }

    /// 16 channels of 4 pixels `pixelStep` floats apart in the padded rows.
    @inline(__always)
    private static func fourPixels(_ input: UnsafePointer<Float>, pixelStep: Int, paddedRow: Int, kh: Int,
                                   tapRun: Int, weights: UnsafePointer<Float>, cout: Int,
                                   bias: UnsafePointer<Float>?, out: UnsafeMutablePointer<Float>) {
        let start0 = bias.map { load8($0) } ?? SIMD8<Float>(), start1 = bias.map { load8($0 + 8) } ?? SIMD8<Float>()
        var a0 = start0, a1 = start1, b0 = start0, b1 = start1
        var c0 = start0, c1 = start1, d0 = start0, d1 = start1
        var tap = weights
        for ky in 0..<kh {
            let row = input + ky * paddedRow
            for t in 0..<tapRun {
                let w0 = load8(tap), w1 = load8(tap + 8)
                let p = row + t
                let xa = SIMD8<Float>(repeating: p[0]), xb = SIMD8<Float>(repeating: p[pixelStep])
                let xc = SIMD8<Float>(repeating: p[2 * pixelStep]), xd = SIMD8<Float>(repeating: p[3 * pixelStep])
                a0 = a0.addingProduct(xa, w0); a1 = a1.addingProduct(xa, w1)
                b0 = b0.addingProduct(xb, w0); b1 = b1.addingProduct(xb, w1)
                c0 = c0.addingProduct(xc, w0); c1 = c1.addingProduct(xc, w1)
                d0 = d0.addingProduct(xd, w0); d1 = d1.addingProduct(xd, w1)
                tap += cout
            }
        }
        store8(out, a0); store8(out + 8, a1)
        store8(out + cout, b0); store8(out + cout + 8, b1)
        store8(out + 2 * cout, c0); store8(out + 2 * cout + 8, c1)
        store8(out + 3 * cout, d0); store8(out + 3 * cout + 8, d1)
    }

    /// 16 channels of one pixel: a row's last pixels when its width is not a multiple of 4.
    @inline(__always)
    private static func onePixel(_ input: UnsafePointer<Float>, paddedRow: Int, kh: Int, tapRun: Int,
                                 weights: UnsafePointer<Float>, cout: Int, bias: UnsafePointer<Float>?,
                                 out: UnsafeMutablePointer<Float>) {
        var a0 = bias.map { load8($0) } ?? SIMD8<Float>(), a1 = bias.map { load8($0 + 8) } ?? SIMD8<Float>()
        var tap = weights
        for ky in 0..<kh {
            let row = input + ky * paddedRow
            for t in 0..<tapRun {
                let xa = SIMD8<Float>(repeating: row[t])
                a0 = a0.addingProduct(xa, load8(tap)); a1 = a1.addingProduct(xa, load8(tap + 8))
                tap += cout
            }
        }
        store8(out, a0); store8(out + 8, a1)
    }
}

@inline(__always)
private func load8(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
}

@inline(__always)
private func store8(_ p: UnsafeMutablePointer<Float>, _ v: SIMD8<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
}
