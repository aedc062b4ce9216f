import Tensors

/// A stride-1, padding-1 3x3 convolution over channels-last images by Winograd's minimal filtering
/// F(2x2, 3x3) (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", 2016).
///
/// The output is cut into 2x2 tiles; tile `Y = Aᵀ [U ⊙ V] A`, where `U = G g Gᵀ` is the 4x4 transform
/// of a 3x3 kernel `g` and `V = Bᵀ d B` that of the 4x4 input patch `d` under the tile (patches of
/// neighbouring tiles overlap by two pixels; outside the image reads zero, which is the padding).
/// Summed over input channels, the element-wise products at each of the 16 positions `p` are one
/// matrix product over all tiles of a chunk of images:
///
///     M[p]: [tiles, Cout] = V[p]: [tiles, Cin] · U[p]ᵀ    (U[p]: [Cout, Cin])
///
/// 16 products of `tiles·Cin·Cout` instead of one of `4·tiles·9·Cin·Cout`: 2.25x fewer
/// multiplications than im2col, plus the transforms, which are linear in the data.
///
/// The input gradient of such a convolution is the same kind of convolution of `dy` with the kernel
/// rotated by 180 degrees and its channel axes swapped. Rotating `g` reverses the columns of `G`
/// (`G J = P G`, `P` swapping rows 0 and 3), so that kernel's transform is `U` itself with its
/// positions permuted by `P` in both axes and its channel axes transposed: backward reuses the
/// forward's `U` and needs no second weight transform.
///
/// Buffers are reused from call to call: after the first step nothing is allocated. Chunks of images
/// are spread over the compute threads (`ChunkPlan`).
final class WinogradConvolution {
    /// U: [16, Cout, Cin]. The transformed input V: [16, tiles, C] and the products M: [16, tiles, C']
    /// of each chunk are `Scratch` buffers, one per thread of the chunk plan.
    private var weights = Workspace()
    private var inChannels = 0, outChannels = 0

    var workspaceTensors: [Tensor] { weights.held }

    /// w: [Cout, 3, 3, Cin] -> U: [16, Cout, Cin]. Call once per forward: the weights change every step.
    func transformWeights(_ w: UnsafePointer<Float>, outChannels cout: Int, inChannels cin: Int) {
        let outerKind = LayerTimings.enter(.winogradTransforms)
        defer { LayerTimings.enter(outerKind) }
        inChannels = cin
        outChannels = cout
        let u = weights.get([16, cout, cin]).data
        let positionStride = cout * cin
        forEachKernelBlock(outChannels: cout, inChannels: cin, scratch: 16) { t, co, c0, lanes in
            // t[4·ky + j] = (g Gᵀ)[ky, j]: each kernel row through Gᵀ.
            for ky in 0..<3 {
                let row = w + (co * 3 + ky) * 3 * cin + c0
                let g0 = row.load(lanes: lanes), g1 = (row + cin).load(lanes: lanes)
                let g2 = (row + 2 * cin).load(lanes: lanes)
                t[4 * ky] = g0
                t[4 * ky + 1] = 0.5 * (g0 + g1 + g2)
                t[4 * ky + 2] = 0.5 * (g0 - g1 + g2)
                t[4 * ky + 3] = g2
            }
            // Then each column through G.
            let out = u + co * cin + c0
            for j in 0..<4 {
                let a = t[j], b = t[4 + j], c = t[8 + j]
                (out + j * positionStride).store(a, lanes: lanes)
                (out + (4 + j) * positionStride).store(0.5 * (a + b + c), lanes: lanes)
                (out + (8 + j) * positionStride).store(0.5 * (a - b + c), lanes: lanes)
                (out + (12 + j) * positionStride).store(c, lanes: lanes)
            }
        }
    }

    /// x: [N, H, W, Cin] -> y: [N, H, W, Cout] (+ bias: [Cout]), with the weights last transformed.
    func forward(_ x: UnsafePointer<Float>, n: Int, h: Int, w: Int, bias: UnsafePointer<Float>?,
                 into y: UnsafeMutablePointer<Float>, budgetBytes: Int) {
        precondition(outChannels > 0, "WinogradConvolution: forward before transformWeights")
        convolve(x, n: n, h: h, w: w, cin: inChannels, cout: outChannels, rotated: false, bias: bias, into: y,
                 productKind: .convForward, budgetBytes: budgetBytes)
    }

    /// dy: [N, H, W, Cout] -> dx: [N, H, W, Cin], with the weights of the forward being differentiated.
    func inputGradient(_ dy: UnsafePointer<Float>, n: Int, h: Int, w: Int, into dx: UnsafeMutablePointer<Float>,
                       budgetBytes: Int) {
        precondition(outChannels > 0, "WinogradConvolution: inputGradient before transformWeights")
        convolve(dy, n: n, h: h, w: w, cin: outChannels, cout: inChannels, rotated: true, bias: nil, into: dx,
                 productKind: .convBackward, budgetBytes: budgetBytes)
    }

    /// dW: [Cout, 3, 3, Cin] += the weight gradient for input x: [N, H, W, Cin] and output gradient
    /// dy: [N, H, W, Cout], by the same transforms.
    ///
    /// With `Y = Aᵀ [U ⊙ V] A` per tile, `∂L/∂U = Σ_tiles (A dY Aᵀ) ⊙ V` and `∂L/∂g = Gᵀ (∂L/∂U) G`:
    /// at each of the 16 positions, one product over the tiles of a chunk,
    ///
    ///     dU[p]: [Cout, Cin] += Ŷ[p]ᵀ · V[p]    (Ŷ = A dY Aᵀ: [tiles, Cout], V: [tiles, Cin])
    ///
    /// then one 4x4 -> 3x3 transform per weight. No im2col, and 2.25x fewer multiplications.
    func weightGradient(_ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, n: Int, h: Int, w: Int,
                        into dW: UnsafeMutablePointer<Float>, budgetBytes: Int, outChannels cout: Int,
                        inChannels cin: Int) {
        let pass = TiledPass(n: n, h: h, w: w, cin: cin, cout: cout, budgetBytes: budgetBytes)
        // Each part sums its chunks' dU; the parts' sums are added before the transform back.
        let sums = Scratch.buffers(.transformedGradient, floats: 16 * cout * cin, parts: pass.plan.parts)
        for du in sums { du.initialize(repeating: 0, count: 16 * cout * cin) }
        pass.forEach { part, images, tileCount, v, m in
            let du = sums[part]
            LayerTimings.enter(.winogradTransforms, part: part)
            transformInput(x + images.lowerBound * h * w * cin, pass.geometry, tileCount: tileCount, channels: cin,
                           into: v)
            transformOutputGradient(dy + images.lowerBound * h * w * cout, pass.geometry, tileCount: tileCount,
                                    channels: cout, into: m)
            LayerTimings.enter(.convBackward, part: part)
            TiledPass.forEachPosition(tileCount: tileCount, cin: cin, cout: cout) { p in
                gemm(transA: true, m: cout, n: cin, k: tileCount, a: m + p * tileCount * cout,
                     b: v + p * tileCount * cin, beta: 1, c: du + p * cout * cin)
            }
        }
        LayerTimings.enter(.convBackward)
        for part in 1..<pass.plan.parts { axpy(16 * cout * cin, 1, sums[part], sums[0]) }
        LayerTimings.enter(.winogradTransforms)
        addWeightGradient(sums[0], outChannels: cout, inChannels: cin, into: dW)
        LayerTimings.enter(.convBackward)
    }

    /// x: [N, H, W, cin] -> y: [N, H, W, cout] through `U` (`rotated`: the kernel rotated by 180
    /// degrees with its channel axes swapped, for the input gradient), in chunks within `budgetBytes`
    /// (`TiledPass`).
    private func convolve(_ x: UnsafePointer<Float>, n: Int, h: Int, w: Int, cin: Int, cout: Int, rotated: Bool,
                          bias: UnsafePointer<Float>?, into y: UnsafeMutablePointer<Float>,
                          productKind: LayerTimings.Kind, budgetBytes: Int) {
        let pass = TiledPass(n: n, h: h, w: w, cin: cin, cout: cout, budgetBytes: budgetBytes)
        let u = weights.tensor!.data
        pass.forEach { part, images, tileCount, v, m in
            LayerTimings.enter(.winogradTransforms, part: part)
            transformInput(x + images.lowerBound * h * w * cin, pass.geometry, tileCount: tileCount, channels: cin,
                           into: v)
            LayerTimings.enter(productKind, part: part)
            TiledPass.forEachPosition(tileCount: tileCount, cin: cin, cout: cout) { p in
                let vp = v + p * tileCount * cin, mp = m + p * tileCount * cout
                if rotated {
                    // U[P p]: [cin, cout] as stored (forward's [Cout, Cin]) is the rotated kernel's Uᵀ.
                    let source = 4 * swap03(p / 4) + swap03(p % 4)
                    gemm(m: tileCount, n: cout, k: cin, a: vp, b: u + source * cin * cout, c: mp)
                } else {
                    gemm(transB: true, m: tileCount, n: cout, k: cin, a: vp, b: u + p * cout * cin, c: mp)
                }
            }
            LayerTimings.enter(.winogradTransforms, part: part)
            transformOutput(m, pass.geometry, tileCount: tileCount, channels: cout, bias: bias,
                            into: y + images.lowerBound * h * w * cout)
        }
    }
}

/// One Winograd pass over `n` images of `h` x `w` (`cin` channels transformed in, `cout` products
/// out): chunks of whole images within `budgetBytes` of transformed input plus products
/// (`V`: [16, tiles, cin], `M`: [16, tiles, cout]), as many as fit and at least one, spread over
/// the threads by a `ChunkPlan`, each part with its own `V` and `M` from `Scratch`.
private struct TiledPass {
    let geometry: TileGeometry
    let plan: ChunkPlan
    let tiles, products: [UnsafeMutablePointer<Float>]

    init(n: Int, h: Int, w: Int, cin: Int, cout: Int, budgetBytes: Int) {
        let tilesW = (w + 1) / 2, tilesPerImage = (h + 1) / 2 * tilesW
        geometry = TileGeometry(h: h, w: w, tilesW: tilesW, tilesPerImage: tilesPerImage)
        let bytesPerImage = 16 * tilesPerImage * (cin + cout) * MemoryLayout<Float>.size
        plan = ChunkPlan(images: n, chunk: Swift.min(n, budgetBytes / bytesPerImage))
        tiles = Scratch.buffers(.tiles, floats: 16 * plan.chunk * tilesPerImage * cin, parts: plan.parts)
        products = Scratch.buffers(.products, floats: 16 * plan.chunk * tilesPerImage * cout, parts: plan.parts)
    }

    /// `body(part, images, tileCount, V, M)` for every chunk, with the part's buffers.
    func forEach(_ body: (Int, Range<Int>, Int, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>) -> Void) {
        plan.forEach { part, images in
            body(part, images, images.count * geometry.tilesPerImage, tiles[part], products[part])
        }
    }

    /// `body(p)` for the 16 positions of a chunk of `tileCount` tiles. Below gemm's own threshold for
    /// splitting a product across threads (Gemm.swift) the pool splits the positions instead; above
    /// it, gemm splits each product. Inside a part of the plan both run on the part's thread.
    static func forEachPosition(tileCount: Int, cin: Int, cout: Int, _ body: (Int) -> Void) {
        let splitPositions = tileCount * cin * cout < 1 << 21
        parallelFor(16, grain: splitPositions ? 1 : 16) { positions in
            for p in positions { body(p) }
        }
    }
}

/// Where the tiles of one image lie.
private struct TileGeometry {
    let h, w, tilesW, tilesPerImage: Int

    /// Tile `t`'s 2x2 output pixels: the index of its top-left pixel in the batch (times the
    /// channels, its offset), and whether its second row and column fall inside the image.
    @inline(__always)
    func outputPixels(_ t: Int) -> (pixel: Int, hasRow1: Bool, hasColumn1: Bool) {
        let image = t / tilesPerImage, tile = t % tilesPerImage
        let y0 = 2 * (tile / tilesW), x0 = 2 * (tile % tilesW)
        return ((image * h + y0) * w + x0, y0 + 1 < h, x0 + 1 < w)
    }
}

/// Column `j` of a 4x4 grid of positions stored `positionStride` floats apart (positions j, 4 + j,
/// 8 + j, 12 + j), `lanes` channels from `source`.
@inline(__always)
private func loadColumn(_ source: UnsafePointer<Float>, _ j: Int, positionStride: Int,
                        lanes: Int) -> (Vector16, Vector16, Vector16, Vector16) {
    ((source + j * positionStride).load(lanes: lanes), (source + (4 + j) * positionStride).load(lanes: lanes),
     (source + (8 + j) * positionStride).load(lanes: lanes), (source + (12 + j) * positionStride).load(lanes: lanes))
}

/// `body(scratch, co, c0, lanes)` for every output channel `co` and block of up to 16 input
/// channels from `c0`, in parallel over output channels, each thread with `scratch` vectors of its own.
@inline(__always)
private func forEachKernelBlock(outChannels cout: Int, inChannels cin: Int, scratch: Int,
                                _ body: (UnsafeMutablePointer<Vector16>, Int, Int, Int) -> Void) {
    parallelFor(cout, grain: Swift.max(1, 4096 / (16 * cin))) { range in
        withUnsafeTemporaryAllocation(of: Vector16.self, capacity: scratch) { vectors in
            for co in range {
                for c0 in Swift.stride(from: 0, to: cin, by: 16) { body(vectors.baseAddress!, co, c0, Swift.min(16, cin - c0)) }
            }
        }
    }
}

/// Row/column 0 of the 4x4 transforms swapped with row/column 3 (the effect of rotating the kernel).
@inline(__always) private func swap03(_ i: Int) -> Int { i == 0 ? 3 : i == 3 ? 0 : i }

/// x: [images, H, W, C] -> v: [16, tiles, C], v[:, t] = Bᵀ d B for the 4x4 patch d of tile t.
///
/// Row by row: each patch row goes through B as it is loaded, and Bᵀ combines the rows in the order
/// 2, 0, 1, 3 so that at most three transformed rows are alive at once (held in registers, not a
/// scratch array).
private func transformInput(_ x: UnsafePointer<Float>, _ g: TileGeometry, tileCount: Int, channels c: Int,
                            into v: UnsafeMutablePointer<Float>) {
    let positionStride = tileCount * c
    parallelFor(tileCount, grain: Swift.max(1, 4096 / (16 * c))) { range in
        for t in range {
            let image = t / g.tilesPerImage, tile = t % g.tilesPerImage
            let y0 = 2 * (tile / g.tilesW) - 1, x0 = 2 * (tile % g.tilesW) - 1
            let source = x + image * g.h * g.w * c
            for c0 in Swift.stride(from: 0, to: c, by: 16) {
                let lanes = Swift.min(16, c - c0)
                // Patch row i through B: (d0 - d2, d1 + d2, d2 - d1, d1 - d3); outside the image reads zero.
                @inline(__always) func row(_ i: Int) -> PatchRow {
                    let iy = y0 + i
                    guard iy >= 0 && iy < g.h else { return PatchRow() }
                    let line = source + iy * g.w * c + c0
                    @inline(__always) func pixel(_ j: Int) -> Vector16 {
                        let ix = x0 + j
                        return ix >= 0 && ix < g.w ? (line + ix * c).load(lanes: lanes) : Vector16()
                    }
                    let d0 = pixel(0), d1 = pixel(1), d2 = pixel(2), d3 = pixel(3)
                    return PatchRow(d0 - d2, d1 + d2, d2 - d1, d1 - d3)
                }
                let out = v + t * c + c0
                @inline(__always) func store(_ i: Int, _ r: PatchRow) {
                    r.store(row: i, into: out, positionStride: positionStride, lanes: lanes)
                }
                // Bᵀ over the transformed rows r: (r0 - r2, r1 + r2, r2 - r1, r1 - r3).
                let r2 = row(2)
                store(0, row(0) - r2)
                let r1 = row(1)
                store(1, r1 + r2)
                store(2, r2 - r1)
                store(3, r1 - row(3))
            }
        }
    }
}

/// Four vectors of a row of a tile's 4x4 transform, added and subtracted element by element.
private struct PatchRow {
    var p0, p1, p2, p3: Vector16

    @inline(__always) init(_ p0: Vector16 = Vector16(), _ p1: Vector16 = Vector16(), _ p2: Vector16 = Vector16(),
                           _ p3: Vector16 = Vector16()) {
        self.p0 = p0; self.p1 = p1; self.p2 = p2; self.p3 = p3
    }

    @inline(__always) static func + (a: PatchRow, b: PatchRow) -> PatchRow {
        PatchRow(a.p0 + b.p0, a.p1 + b.p1, a.p2 + b.p2, a.p3 + b.p3)
    }

    @inline(__always) static func - (a: PatchRow, b: PatchRow) -> PatchRow {
        PatchRow(a.p0 - b.p0, a.p1 - b.p1, a.p2 - b.p2, a.p3 - b.p3)
    }

    /// Stores the row as positions 4·i ..< 4·i + 4 of a `[16, tiles, C]` buffer (`out`: this tile's
    /// channels at position 0).
    @inline(__always) func store(row i: Int, into out: UnsafeMutablePointer<Float>, positionStride: Int, lanes: Int) {
        (out + (4 * i) * positionStride).store(p0, lanes: lanes)
        (out + (4 * i + 1) * positionStride).store(p1, lanes: lanes)
        (out + (4 * i + 2) * positionStride).store(p2, lanes: lanes)
        (out + (4 * i + 3) * positionStride).store(p3, lanes: lanes)
    }
}

/// dy: [images, H, W, C] -> m: [16, tiles, C], m[:, t] = A dY Aᵀ for the 2x2 output gradient dY of
/// tile t (zero for the pixels of edge tiles that fall outside an odd-sized image).
private func transformOutputGradient(_ dy: UnsafePointer<Float>, _ g: TileGeometry, tileCount: Int, channels c: Int,
                                     into m: UnsafeMutablePointer<Float>) {
    let positionStride = tileCount * c
    parallelFor(tileCount, grain: Swift.max(1, 4096 / (16 * c))) { range in
        for t in range {
            let (pixel, hasRow1, hasColumn1) = g.outputPixels(t)
            let source = dy + pixel * c
            for c0 in Swift.stride(from: 0, to: c, by: 16) {
                let lanes = Swift.min(16, c - c0)
                let a = (source + c0).load(lanes: lanes)
                let b = hasColumn1 ? (source + c + c0).load(lanes: lanes) : Vector16()
                let below = source + g.w * c + c0
                let cc = hasRow1 ? below.load(lanes: lanes) : Vector16()
                let e = hasRow1 && hasColumn1 ? (below + c).load(lanes: lanes) : Vector16()
                // A dY: rows (r0, r0 + r1, r0 - r1, -r1) of dY's rows r0 = (a, b), r1 = (cc, e);
                // then each row (p, q) through Aᵀ: (p, p + q, p - q, -q).
                let out = m + t * c + c0
                @inline(__always) func row(_ i: Int, _ p: Vector16, _ q: Vector16) {
                    PatchRow(p, p + q, p - q, -q).store(row: i, into: out, positionStride: positionStride, lanes: lanes)
                }
                row(0, a, b)
                row(1, a + cc, b + e)
                row(2, a - cc, b - e)
                row(3, -cc, -e)
            }
        }
    }
}

/// dW: [Cout, 3, 3, Cin] += Gᵀ dU G for each (Cout, Cin) pair of dU: [16, Cout, Cin].
private func addWeightGradient(_ du: UnsafePointer<Float>, outChannels cout: Int, inChannels cin: Int,
                               into dW: UnsafeMutablePointer<Float>) {
    let positionStride = cout * cin
    forEachKernelBlock(outChannels: cout, inChannels: cin, scratch: 12) { r, co, c0, lanes in
        let source = du + co * cin + c0
        // Gᵀ M: rows (m0 + (m1 + m2)/2, (m1 - m2)/2, (m1 + m2)/2 + m3), column by column.
        for j in 0..<4 {
            let (m0, m1, m2, m3) = loadColumn(source, j, positionStride: positionStride, lanes: lanes)
            r[j] = m0 + 0.5 * (m1 + m2)
            r[4 + j] = 0.5 * (m1 - m2)
            r[8 + j] = 0.5 * (m1 + m2) + m3
        }
        // (Gᵀ M) G: the same combination of the columns, row by row, added into dW.
        for ky in 0..<3 {
            let r0 = r[4 * ky], r1 = r[4 * ky + 1], r2 = r[4 * ky + 2], r3 = r[4 * ky + 3]
            let target = dW + (co * 3 + ky) * 3 * cin + c0
            target.store(target.load(lanes: lanes) + r0 + 0.5 * (r1 + r2), lanes: lanes)
            (target + cin).store((target + cin).load(lanes: lanes) + 0.5 * (r1 - r2), lanes: lanes)
            (target + 2 * cin).store((target + 2 * cin).load(lanes: lanes) + 0.5 * (r1 + r2) + r3,
                                     lanes: lanes)
        }
    }
}

/// m: [16, tiles, C] -> y: [images, H, W, C], each tile's 2x2 pixels `Aᵀ m A` (+ bias); the pixels
/// of edge tiles that fall outside an odd-sized image are dropped.
private func transformOutput(_ m: UnsafePointer<Float>, _ g: TileGeometry, tileCount: Int, channels c: Int,
                             bias: UnsafePointer<Float>?, into y: UnsafeMutablePointer<Float>) {
    let positionStride = tileCount * c
    parallelFor(tileCount, grain: Swift.max(1, 4096 / (16 * c))) { range in
        withUnsafeTemporaryAllocation(of: Vector16.self, capacity: 8) { s in
            for t in range {
                let (pixel, hasRow1, hasColumn1) = g.outputPixels(t)
                let target = y + pixel * c
                for c0 in Swift.stride(from: 0, to: c, by: 16) {
                    let lanes = Swift.min(16, c - c0)
                    let source = m + t * c + c0
                    // s[4·i + j] = (Aᵀ m)[i, j]: rows (m0 + m1 + m2, m1 - m2 - m3), column by column.
                    for j in 0..<4 {
                        let (a, b, cc, e) = loadColumn(source, j, positionStride: positionStride, lanes: lanes)
                        s[j] = a + b + cc
                        s[4 + j] = b - cc - e
                    }
                    let offset = bias.map { ($0 + c0).load(lanes: lanes) } ?? Vector16()
                    // (Aᵀ m) A: the same combination of the columns, row by row.
                    for i in 0..<(hasRow1 ? 2 : 1) {
                        let a = s[4 * i], b = s[4 * i + 1], cc = s[4 * i + 2], e = s[4 * i + 3]
                        let row = target + i * g.w * c + c0
                        row.store(a + b + cc + offset, lanes: lanes)
                        if hasColumn1 { (row + c).store(b - cc - e + offset, lanes: lanes) }
                    }
                }
            }
        }
    }
}

/// The direct loop a stride-1, padding-1 3x3 convolution means, accumulated in Double: the
/// reference the Winograd path is tested against.
///
/// x: [N, H, W, Cin], weight: [Cout, 3, 3, Cin], bias: [Cout] or nil -> y: [N, H, W, Cout]
func referenceConvolution3x3(_ x: UnsafePointer<Float>, n: Int, h: Int, w: Int, inChannels cin: Int,
                             outChannels cout: Int, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                             into y: UnsafeMutablePointer<Float>) {
    for image in 0..<n { for oy in 0..<h { for ox in 0..<w { for co in 0..<cout {
        var acc = Double(bias?[co] ?? 0)
        for ky in 0..<3 { for kx in 0..<3 {
            let iy = oy - 1 + ky, ix = ox - 1 + kx
            guard iy >= 0, iy < h, ix >= 0, ix < w else { continue }
            let pixel = x + ((image * h + iy) * w + ix) * cin, tap = weight + ((co * 3 + ky) * 3 + kx) * cin
            for ci in 0..<cin { acc += Double(pixel[ci]) * Double(tap[ci]) }
        } }
        y[((image * h + oy) * w + ox) * cout + co] = Float(acc)
    } } } }
}
