import Tensors

/// A stride-1, padding-1 3x3 convolution over channels-last images by Winograd's minimal filtering
/// F(4x4, 3x3) (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", 2016).
///
/// The output is cut into 4x4 tiles; tile `Y = Aᵀ [U ⊙ V] A`, where `U = G g Gᵀ` is the 6x6 transform
/// of a 3x3 kernel `g` and `V = Bᵀ d B` that of the 6x6 input patch `d` under the tile (patches of
/// neighbouring tiles overlap by two pixels; outside the image reads zero, which is the padding).
/// The matrices are those of the interpolation points 0, ±1, ±2 and ∞. Summed over input channels,
/// the element-wise products at each of the 36 positions `p` are one matrix product over all tiles
/// of a chunk:
///
///     M[p]: [tiles, Cout] = V[p]: [tiles, Cin] · U[p]ᵀ    (U[p]: [Cout, Cin])
///
/// 36 products of `tiles·Cin·Cout` for 16 output pixels instead of 16·9: 4x fewer multiplications
/// than im2col, plus the transforms, which are linear in the data and touch 2.25 floats per output
/// pixel and channel.
///
/// The input gradient of such a convolution is the same kind of convolution of `dy` with the kernel
/// rotated by 180 degrees and its channel axes swapped, run through its own transform `U'`.
///
/// `U` (and `U'`) live in `Scratch`: each pass transforms the current weights again, which costs
/// little beside the products, so that no layer keeps 36 copies of its kernel between forward and
/// backward. Buffers are reused from call to call: after the first step nothing is allocated. Chunks
/// of tiles are spread over the compute threads (`ChunkPlan`).
final class WinogradConvolution {
    /// Passes run by this convolution (forward, input gradient, weight gradient): for tests.
    private(set) var passes = 0
    /// Its convolution's timings, charged with the transforms and the products apart.
    private let timings: LayerTimings?

    init(timings: LayerTimings?) {
        self.timings = timings
    }

    /// x: [N, H, W, Cin] -> y: [N, H, W, Cout] (+ bias: [Cout]) for weights w: [Cout, 3, 3, Cin].
    func forward(_ x: UnsafePointer<Float>, n: Int, h: Int, w: Int, weights: UnsafePointer<Float>,
                 outChannels cout: Int, inChannels cin: Int, bias: UnsafePointer<Float>?,
                 into y: UnsafeMutablePointer<Float>, budgetBytes: Int) {
        let u = transformWeights(weights, outChannels: cout, inChannels: cin, rotated: false, timings: timings)
        convolve(x, n: n, h: h, w: w, cin: cin, cout: cout, transposedWeights: true, u: u, bias: bias, into: y,
                 productKind: .convForward, budgetBytes: budgetBytes)
    }

    /// dy: [N, H, W, Cout] -> dx: [N, H, W, Cin] for weights w: [Cout, 3, 3, Cin].
    func inputGradient(_ dy: UnsafePointer<Float>, n: Int, h: Int, w: Int, weights: UnsafePointer<Float>,
                       outChannels cout: Int, inChannels cin: Int, into dx: UnsafeMutablePointer<Float>,
                       budgetBytes: Int) {
        // U'[p]: [Cout, Cin] as stored is the rotated kernel's [its Cin, its Cout]: no transpose.
        let u = transformWeights(weights, outChannels: cout, inChannels: cin, rotated: true, timings: timings)
        convolve(dy, n: n, h: h, w: w, cin: cout, cout: cin, transposedWeights: false, u: u, bias: nil, into: dx,
                 productKind: .convBackward, budgetBytes: budgetBytes)
    }

    /// dW: [Cout, 3, 3, Cin] += the weight gradient for input x: [N, H, W, Cin] and output gradient
    /// dy: [N, H, W, Cout], by the same transforms.
    ///
    /// With `Y = Aᵀ [U ⊙ V] A` per tile, `∂L/∂U = Σ_tiles (A dY Aᵀ) ⊙ V` and `∂L/∂g = Gᵀ (∂L/∂U) G`:
    /// at each of the 36 positions, one product over the tiles of a chunk,
    ///
    ///     dU[p]: [Cout, Cin] += Ŷ[p]ᵀ · V[p]    (Ŷ = A dY Aᵀ: [tiles, Cout], V: [tiles, Cin])
    ///
    /// then one 6x6 -> 3x3 transform per weight. No im2col, and 4x fewer multiplications.
    ///
    /// Each thread sums the dU of its own chunks, added up at the end, unless a dU (36 copies of the
    /// kernel) is larger than a chunk's buffers: then the chunks run one at a time, each split across
    /// the threads (by tiles for the transforms, by positions for the products), into
    /// one dU, and the threads' budgets make one larger chunk, which also means fewer passes over dU.
    func weightGradient(_ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, n: Int, h: Int, w: Int,
                        into dW: UnsafeMutablePointer<Float>, budgetBytes: Int, outChannels cout: Int,
                        inChannels cin: Int) {
        passes += 1
        let size = positions * cout * cin
        let shared = size * MemoryLayout<Float>.size > budgetBytes
        let pass = TiledPass(n: n, h: h, w: w, cin: cin, cout: cout,
                             budgetBytes: shared ? budgetBytes * Threads.available : budgetBytes, shared: shared)
        let sums = Scratch.buffers(.transformedGradient, floats: size, parts: pass.plan.parts)
        let timings = self.timings
        for du in sums { du.initialize(repeating: 0, count: size) }
        pass.forEach { part, tiles, v, m in
            let du = sums[part], tileCount = tiles.count
            timings.enter(.winogradTransforms, part: part)
            transformInput(x, pass.geometry, tiles: tiles, channels: cin, into: v)
            transformOutputGradient(dy, pass.geometry, tiles: tiles, channels: cout, into: m)
            timings.enter(.convBackward, part: part)
            TiledPass.forEachPosition { p in
                gemm(transA: true, m: cout, n: cin, k: tileCount, a: m + p * tileCount * cout,
                     b: v + p * tileCount * cin, beta: 1, c: du + p * cout * cin)
            }
        }
        timings.enter(.convBackward)
        for part in 1..<pass.plan.parts { axpy(size, 1, sums[part], sums[0]) }
        timings.enter(.winogradTransforms)
        addWeightGradient(sums[0], outChannels: cout, inChannels: cin, into: dW)
        timings.enter(.convBackward)
    }

    /// x: [N, H, W, cin] -> y: [N, H, W, cout] through `u`: [36, cout, cin] (`transposedWeights`, the
    /// forward's) or [36, cin, cout], in chunks within `budgetBytes` (`TiledPass`).
    private func convolve(_ x: UnsafePointer<Float>, n: Int, h: Int, w: Int, cin: Int, cout: Int,
                          transposedWeights: Bool, u: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                          into y: UnsafeMutablePointer<Float>, productKind: LayerTimings.Kind, budgetBytes: Int) {
        passes += 1
        let pass = TiledPass(n: n, h: h, w: w, cin: cin, cout: cout, budgetBytes: budgetBytes)
        let timings = self.timings
        pass.forEach(claimed: true) { part, tiles, v, m in
            let tileCount = tiles.count
            timings.enter(.winogradTransforms, part: part)
            transformInput(x, pass.geometry, tiles: tiles, channels: cin, into: v)
            timings.enter(productKind, part: part)
            TiledPass.forEachPosition { p in
                gemm(transB: transposedWeights, m: tileCount, n: cout, k: cin, a: v + p * tileCount * cin,
                     b: u + p * cin * cout, c: m + p * tileCount * cout)
            }
            timings.enter(.winogradTransforms, part: part)
            transformOutput(m, pass.geometry, tiles: tiles, channels: cout, bias: bias, into: y)
        }
    }
}

/// Positions of a tile's transform: 6x6.
private let positions = 36

/// w: [Cout, 3, 3, Cin] -> U: [36, Cout, Cin] in `Scratch`, `U = G g Gᵀ` per kernel (`rotated`: of
/// each kernel turned by 180 degrees, for the input gradient). Charged to the Winograd transforms.
private func transformWeights(_ w: UnsafePointer<Float>, outChannels cout: Int, inChannels cin: Int,
                              rotated: Bool, timings: LayerTimings?) -> UnsafePointer<Float> {
    let outerKind = timings.enter(.winogradTransforms)
    defer { timings.enter(outerKind) }
    let u = Scratch.buffers(.transformedWeights, floats: positions * cout * cin, parts: 1)[0]
    let positionStride = cout * cin
    forEachChannelBlock(cout, channels: cin, scratch: 18) { co, t, c0, lanes in
        @inline(__always) func tap(_ ky: Int, _ kx: Int) -> Vector16 {
            let (a, b) = rotated ? (2 - ky, 2 - kx) : (ky, kx)
            return (w + ((co * 3 + a) * 3 + b) * cin + c0).load(lanes: lanes)
        }
        // t[6·ky + j] = (g Gᵀ)[ky, j]: each kernel row through G.
        for ky in 0..<3 {
            kernelTransform(tap(ky, 0), tap(ky, 1), tap(ky, 2)) { j, value in t[6 * ky + j] = value }
        }
        // Then each column through G.
        let out = u + co * cin + c0
        for j in 0..<6 {
            kernelTransform(t[j], t[6 + j], t[12 + j]) { i, value in
                (out + (6 * i + j) * positionStride).store(value, lanes: lanes)
            }
        }
    }
    return UnsafePointer(u)
}

/// One Winograd pass over `n` images of `h` x `w` (`cin` channels transformed in, `cout` products
/// out): chunks of tiles within `budgetBytes` of transformed input plus products
/// (`V`: [36, tiles, cin], `M`: [36, tiles, cout]), as many as fit and at least one, spread over
/// the threads by a `ChunkPlan`, each part with its own `V` and `M` from `Scratch`.
private struct TiledPass {
    let geometry: TileGeometry
    let plan: ChunkPlan
    let tiles, products: [UnsafeMutablePointer<Float>]

    /// - Parameter shared: one chunk at a time across all threads (`ChunkPlan`).
    init(n: Int, h: Int, w: Int, cin: Int, cout: Int, budgetBytes: Int, shared: Bool = false) {
        let tilesW = (w + 3) / 4, tilesPerImage = (h + 3) / 4 * tilesW
        geometry = TileGeometry(h: h, w: w, tilesW: tilesW, tilesPerImage: tilesPerImage)
        let bytesPerTile = positions * (cin + cout) * MemoryLayout<Float>.size
        let tileCount = n * tilesPerImage
        let byBudget = ChunkPlan(images: tileCount, chunk: budgetBytes / bytesPerTile, shared: shared)
        // With too few chunks for each thread to have its own, the plan runs them one at a time and
        // shares out their products. Then every tile goes in one chunk, within 4x the budget
        // (ResNet-50's 14x14 and 7x7 layers at batch 16: 256 and 64 tiles): each U[p] is packed
        // once instead of once per chunk, and each product has all the rows.
        let oneChunk = !shared && Threads.available > 1 && byBudget.parts == 1
            && tileCount * bytesPerTile <= 4 * budgetBytes
        plan = oneChunk ? ChunkPlan(images: tileCount, chunk: tileCount) : byBudget
        tiles = Scratch.buffers(.tiles, floats: positions * plan.chunk * cin, parts: plan.parts)
        products = Scratch.buffers(.products, floats: positions * plan.chunk * cout, parts: plan.parts)
    }

    /// `body(part, tiles, V, M)` for every chunk of tiles (numbered over the whole batch), with the
    /// part's buffers; `claimed` as `ChunkPlan.forEach`'s.
    func forEach(claimed: Bool = false,
                 _ body: (Int, Range<Int>, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>) -> Void) {
        plan.forEach(claimed: claimed) { part, chunk in body(part, chunk, tiles[part], products[part]) }
    }

    /// `body(p)` for the 36 positions of a chunk: shared out among the threads, each product whole
    /// on one thread (splitting every product instead would pack its U[p] once per thread, for
    /// half the rows). Inside a part of the plan, all on the part's thread.
    static func forEachPosition(_ body: (Int) -> Void) {
        parallelFor(positions) { range in
            for p in range { body(p) }
        }
    }
}

/// Where the tiles of one image lie.
private struct TileGeometry {
    let h, w, tilesW, tilesPerImage: Int

    /// Tile `t`'s image and the row and column of its top-left output pixel.
    @inline(__always)
    func origin(_ t: Int) -> (image: Int, y0: Int, x0: Int) {
        let tile = t % tilesPerImage
        return (t / tilesPerImage, 4 * (tile / tilesW), 4 * (tile % tilesW))
    }

    /// Tile `t`'s 4x4 output pixels: the index of its top-left pixel in the batch (times the
    /// channels, its offset), and how many of its rows and columns fall inside the image.
    @inline(__always)
    func outputPixels(_ t: Int) -> (pixel: Int, rows: Int, columns: Int) {
        let (image, y0, x0) = origin(t)
        return ((image * h + y0) * w + x0, Swift.min(4, h - y0), Swift.min(4, w - x0))
    }
}

/// `body(item, scratch, c0, lanes)` for every item of `count` (an output channel of a kernel, a tile of
/// a chunk) and block of up to 16 of its `channels` from `c0`, in parallel over items, each thread
/// with `scratch` vectors of its own.
@inline(__always)
private func forEachChannelBlock(_ count: Int, channels c: Int, scratch: Int,
                                 _ body: (Int, UnsafeMutablePointer<Vector16>, Int, Int) -> Void) {
    parallelFor(count, grain: Swift.max(1, 4096 / (positions * c))) { range in
        withUnsafeTemporaryAllocation(of: Vector16.self, capacity: scratch) { vectors in
            for item in range {
                for c0 in Swift.stride(from: 0, to: c, by: 16) {
                    body(item, vectors.baseAddress!, c0, Swift.min(16, c - c0))
                }
            }
        }
    }
}

// The one-dimensional transforms, each written to `out(index, value)`. The two-dimensional ones
// apply them to the rows of a tile and then to its columns.

/// Bᵀ d: six patch values to six transformed ones.
@inline(__always)
private func inputTransform(_ d0: Vector16, _ d1: Vector16, _ d2: Vector16, _ d3: Vector16, _ d4: Vector16,
                            _ d5: Vector16, _ out: (Int, Vector16) -> Void) {
    let a = d4 - 4 * d2, b = d3 - 4 * d1, c = d4 - d2, e = 2 * (d3 - d1)
    out(0, 4 * d0 - 5 * d2 + d4)
    out(1, a + b)
    out(2, a - b)
    out(3, c + e)
    out(4, c - e)
    out(5, 4 * d1 - 5 * d3 + d5)
}

/// Aᵀ m: six products to four output values.
@inline(__always)
private func outputTransform(_ m0: Vector16, _ m1: Vector16, _ m2: Vector16, _ m3: Vector16, _ m4: Vector16,
                             _ m5: Vector16, _ out: (Int, Vector16) -> Void) {
    let s12 = m1 + m2, d12 = m1 - m2, s34 = m3 + m4, d34 = m3 - m4
    out(0, m0 + s12 + s34)
    out(1, d12 + 2 * d34)
    out(2, s12 + 4 * s34)
    out(3, d12 + 8 * d34 + m5)
}

/// A y: four output gradients to six (the adjoint of `outputTransform`).
@inline(__always)
private func outputGradientTransform(_ y0: Vector16, _ y1: Vector16, _ y2: Vector16, _ y3: Vector16,
                                     _ out: (Int, Vector16) -> Void) {
    let even = y0 + y2, odd = y1 + y3, even4 = y0 + 4 * y2, odd2 = 2 * y1 + 8 * y3
    out(0, y0)
    out(1, even + odd)
    out(2, even - odd)
    out(3, even4 + odd2)
    out(4, even4 - odd2)
    out(5, y3)
}

/// G g: three kernel taps to six transformed ones.
@inline(__always)
private func kernelTransform(_ g0: Vector16, _ g1: Vector16, _ g2: Vector16, _ out: (Int, Vector16) -> Void) {
    let outer = g0 + g2, outer4 = g0 / 24 + g2 / 6
    out(0, g0 / 4)
    out(1, -(outer + g1) / 6)
    out(2, (g1 - outer) / 6)
    out(3, outer4 + g1 / 12)
    out(4, outer4 - g1 / 12)
    out(5, g2)
}

/// Gᵀ u: six transformed kernel gradients to three taps (the adjoint of `kernelTransform`).
@inline(__always)
private func kernelGradientTransform(_ u0: Vector16, _ u1: Vector16, _ u2: Vector16, _ u3: Vector16,
                                     _ u4: Vector16, _ u5: Vector16) -> (Vector16, Vector16, Vector16) {
    let s12 = (u1 + u2) / 6, s34 = u3 + u4
    return (u0 / 4 - s12 + s34 / 24, (u2 - u1) / 6 + (u3 - u4) / 12, s34 / 6 - s12 + u5)
}

/// x: [images, H, W, C] -> v: [36, tiles, C], v[:, t] = Bᵀ d B for the 6x6 patch d of each tile t of
/// `tiles` (numbered over the batch; v's rows are local to the chunk).
private func transformInput(_ x: UnsafePointer<Float>, _ g: TileGeometry, tiles: Range<Int>, channels c: Int,
                            into v: UnsafeMutablePointer<Float>) {
    let positionStride = tiles.count * c
    forEachChannelBlock(tiles.count, channels: c, scratch: positions) { local, s, c0, lanes in
        // The patch starts a pixel above and left of the tile's output.
        let (image, oy, ox) = g.origin(tiles.lowerBound + local)
        let y0 = oy - 1, x0 = ox - 1
        let source = x + image * g.h * g.w * c + c0
        // s[6·i + j] = (d B)[i, j]: each patch row through Bᵀ; outside the image reads zero.
        for i in 0..<6 {
            let iy = y0 + i
            guard iy >= 0 && iy < g.h else {
                for j in 0..<6 { s[6 * i + j] = Vector16() }
                continue
            }
            let line = source + iy * g.w * c
            @inline(__always) func pixel(_ j: Int) -> Vector16 {
                let ix = x0 + j
                return ix >= 0 && ix < g.w ? (line + ix * c).load(lanes: lanes) : Vector16()
            }
            inputTransform(pixel(0), pixel(1), pixel(2), pixel(3), pixel(4), pixel(5)) { j, value in
                s[6 * i + j] = value
            }
        }
        // Then each column through Bᵀ.
        let out = v + local * c + c0
        for j in 0..<6 {
            inputTransform(s[j], s[6 + j], s[12 + j], s[18 + j], s[24 + j], s[30 + j]) { i, value in
                (out + (6 * i + j) * positionStride).store(value, lanes: lanes)
            }
        }
    }
}

/// dy: [images, H, W, C] -> m: [36, tiles, C], m[:, t] = A dY Aᵀ for the 4x4 output gradient dY of
/// each tile t of `tiles` (zero for the pixels of edge tiles that fall outside the image).
private func transformOutputGradient(_ dy: UnsafePointer<Float>, _ g: TileGeometry, tiles: Range<Int>,
                                     channels c: Int, into m: UnsafeMutablePointer<Float>) {
    let positionStride = tiles.count * c
    forEachChannelBlock(tiles.count, channels: c, scratch: positions) { local, s, c0, lanes in
        let (pixel, rows, columns) = g.outputPixels(tiles.lowerBound + local)
        let source = dy + pixel * c + c0
        // s[6·i + j] = (dY Aᵀ)[i, j]: each gradient row through A.
        for i in 0..<4 {
            guard i < rows else {
                for j in 0..<6 { s[6 * i + j] = Vector16() }
                continue
            }
            let line = source + i * g.w * c
            @inline(__always) func value(_ j: Int) -> Vector16 {
                j < columns ? (line + j * c).load(lanes: lanes) : Vector16()
            }
            outputGradientTransform(value(0), value(1), value(2), value(3)) { j, value in s[6 * i + j] = value }
        }
        // Then each column through A.
        let out = m + local * c + c0
        for j in 0..<6 {
            outputGradientTransform(s[j], s[6 + j], s[12 + j], s[18 + j]) { i, value in
                (out + (6 * i + j) * positionStride).store(value, lanes: lanes)
            }
        }
    }
}

/// m: [36, tiles, C] -> y: [images, H, W, C], each tile's 4x4 pixels `Aᵀ m A` (+ bias); the pixels
/// of edge tiles that fall outside the image are dropped.
private func transformOutput(_ m: UnsafePointer<Float>, _ g: TileGeometry, tiles: Range<Int>, channels c: Int,
                             bias: UnsafePointer<Float>?, into y: UnsafeMutablePointer<Float>) {
    let positionStride = tiles.count * c
    forEachChannelBlock(tiles.count, channels: c, scratch: positions) { local, s, c0, lanes in
        let (pixel, rows, columns) = g.outputPixels(tiles.lowerBound + local)
        let source = m + local * c + c0
        @inline(__always) func product(_ p: Int) -> Vector16 { (source + p * positionStride).load(lanes: lanes) }
        // s[6·i + j] = (Aᵀ m)[i, j]: each column of products through Aᵀ.
        for j in 0..<6 {
            outputTransform(product(j), product(6 + j), product(12 + j), product(18 + j), product(24 + j),
                            product(30 + j)) { i, value in s[6 * i + j] = value }
        }
        // Then each row through Aᵀ, the image's pixels stored.
        let offset = bias.map { ($0 + c0).load(lanes: lanes) } ?? Vector16()
        let target = y + pixel * c + c0
        for i in 0..<rows {
            let line = target + i * g.w * c
            let row = s + 6 * i
            outputTransform(row[0], row[1], row[2], row[3], row[4], row[5]) { j, value in
                if j < columns { (line + j * c).store(value + offset, lanes: lanes) }
            }
        }
    }
}

/// dW: [Cout, 3, 3, Cin] += Gᵀ dU G for each (Cout, Cin) pair of dU: [36, Cout, Cin].
private func addWeightGradient(_ du: UnsafePointer<Float>, outChannels cout: Int, inChannels cin: Int,
                               into dW: UnsafeMutablePointer<Float>) {
    let positionStride = cout * cin
    forEachChannelBlock(cout, channels: cin, scratch: 18) { co, r, c0, lanes in
        let source = du + co * cin + c0
        @inline(__always) func gradient(_ p: Int) -> Vector16 { (source + p * positionStride).load(lanes: lanes) }
        // r[6·ky + j] = (Gᵀ dU)[ky, j], column by column.
        for j in 0..<6 {
            let (a, b, e) = kernelGradientTransform(gradient(j), gradient(6 + j), gradient(12 + j), gradient(18 + j),
                                                    gradient(24 + j), gradient(30 + j))
            r[j] = a; r[6 + j] = b; r[12 + j] = e
        }
        // (Gᵀ dU) G: the same combination of each row, added into dW.
        for ky in 0..<3 {
            let row = r + 6 * ky
            let (a, b, e) = kernelGradientTransform(row[0], row[1], row[2], row[3], row[4], row[5])
            let target = dW + (co * 3 + ky) * 3 * cin + c0
            target.store(target.load(lanes: lanes) + a, lanes: lanes)
            (target + cin).store((target + cin).load(lanes: lanes) + b, lanes: lanes)
            (target + 2 * cin).store((target + 2 * cin).load(lanes: lanes) + e, lanes: lanes)
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
