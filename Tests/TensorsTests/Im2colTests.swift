import Tensors
import TestSupport
import XCTest

/// The fast im2col/col2im against the plain reference loops: equal bit for bit, for the ResNet
/// geometries (the 1x1 ones with their own gather and scatter) and odd ones, channel counts below,
/// at and above the 16-float vector width, and a range of images that does not start at 0.
final class Im2colTests: XCTestCase {
    private let geometries = [(3, 1, 1), (3, 2, 1), (1, 2, 0), (1, 3, 0), (1, 1, 0), (7, 2, 3), (3, 1, 0), (2, 3, 1),
                              (5, 1, 4)]

    func testIm2colEqualsReference() {
        for (k, stride, padding) in geometries {
            for c in [1, 3, 16, 35] {
                let g = ConvGeometry(n: 3, h: 9, w: 7, c: c, kh: k, kw: k, stride: stride, padding: padding)
                guard g.outH > 0 && g.outW > 0 else { continue }
                let x = randomTensor([3, 9, 7, c], seed: 11)
                let rows = 2 * g.outH * g.outW
                let fast = Tensor(zeros: [rows, g.patch]), reference = Tensor(zeros: [rows, g.patch])
                fast.fill(.nan)  // every entry must be written, padding included
                im2col(g, x: x.data, col: fast.data, images: 1..<3)
                referenceIm2col(g, x: x.data, col: reference.data, images: 1..<3)
                XCTAssertEqual(fast.array, reference.array, "k \(k) stride \(stride) padding \(padding) c \(c)")
            }
        }
    }

    func testCol2imEqualsReferenceAccumulatingOrNot() {
        for (k, stride, padding) in geometries {
            for c in [1, 3, 16, 35] {
                let g = ConvGeometry(n: 3, h: 9, w: 7, c: c, kh: k, kw: k, stride: stride, padding: padding)
                guard g.outH > 0 && g.outW > 0 else { continue }
                let col = randomTensor([2 * g.outH * g.outW, g.patch], seed: 12)
                let start = randomTensor([3, 9, 7, c], seed: 13)
                let label = "k \(k) stride \(stride) padding \(padding) c \(c)"

                let fast = start.clone(), reference = start.clone()
                col2im(g, col: col.data, dx: fast.data, images: 1..<3)
                referenceCol2im(g, col: col.data, dx: reference.data, images: 1..<3)
                XCTAssertEqual(fast.array, reference.array, "accumulating, " + label)

                // Overwriting: the chunk's images are replaced, image 0 is left alone.
                let overwritten = start.clone(), cleared = start.clone()
                for i in 9 * 7 * c..<cleared.count { cleared[i] = 0 }
                col2im(g, col: col.data, dx: overwritten.data, images: 1..<3, accumulate: false)
                referenceCol2im(g, col: col.data, dx: cleared.data, images: 1..<3)
                XCTAssertEqual(overwritten.array, cleared.array, "overwriting, " + label)
            }
        }
    }
}
