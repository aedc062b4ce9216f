import Tensors
import XCTest

final class RandomStreamTests: XCTestCase {
    func testPhiloxKnownAnswer() {
        // Known-answer vector of Philox4x32-10 from Random123's kat_vectors (counter and key all ones).
        let out = RandomStream.philox((0xFFFF_FFFF, 0xFFFF_FFFF, 0xFFFF_FFFF, 0xFFFF_FFFF),
                                      key: (0xFFFF_FFFF, 0xFFFF_FFFF))
        XCTAssertEqual([out.0, out.1, out.2, out.3], [0x408F_276D, 0x41C8_3B0E, 0xA20B_C7C6, 0x6D54_51FD])
    }

    func testSameKeySameNumbersDifferentKeyDifferentNumbers() {
        var a = RandomStream(seed: 42, epoch: 1, index: 10, view: 0)
        var b = RandomStream(seed: 42, epoch: 1, index: 10, view: 0)
        var c = RandomStream(seed: 42, epoch: 1, index: 10, view: 1)
        let xa = (0..<9).map { _ in a.nextUInt32() }
        XCTAssertEqual(xa, (0..<9).map { _ in b.nextUInt32() })
        XCTAssertNotEqual(xa, (0..<9).map { _ in c.nextUInt32() })
    }

    func testUniformAndNormalMoments() {
        var r = RandomStream(seed: 3)
        let n = 20000
        let u = (0..<n).map { _ in Double(r.uniform()) }
        XCTAssertEqual(u.reduce(0, +) / Double(n), 0.5, accuracy: 0.01)
        XCTAssertTrue(u.allSatisfy { $0 >= 0 && $0 < 1 })
        let z = (0..<n).map { _ in Double(r.normal()) }
        let mean = z.reduce(0, +) / Double(n)
        let variance = z.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(n)
        XCTAssertEqual(mean, 0, accuracy: 0.03)
        XCTAssertEqual(variance, 1, accuracy: 0.05)
    }

    func testPermutationIsAPermutation() {
        var r = RandomStream(seed: 9)
        let p = r.permutation(100)
        XCTAssertEqual(p.sorted(), Array(0..<100))
        XCTAssertNotEqual(p, Array(0..<100))
    }
}
