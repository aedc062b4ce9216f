import Tensors
import XCTest

/// Pooled tensors: a released block is reused for the next request it fits, and only then.
final class TensorPoolTests: XCTestCase {
    override func setUp() { TensorPool.trim() }

    func testAReleasedBlockIsReusedForTheSameAndSmallerSizes() {
        let before = TensorPool.allocatedBytes
        var a: Tensor? = Tensor(pooled: [10, 100])
        let block = a!.data
        XCTAssertEqual(TensorPool.allocatedBytes - before, 1000 * 4)
        a = nil
        let same = Tensor(pooled: [1000])
        XCTAssertEqual(same.data, block, "the same size takes the released block")
        XCTAssertEqual(TensorPool.allocatedBytes - before, 1000 * 4)
        // While it is in use, a second one is a new block.
        let second = Tensor(pooled: [1000])
        XCTAssertNotEqual(second.data, block)
        XCTAssertEqual(TensorPool.allocatedBytes - before, 2000 * 4)
        withExtendedLifetime(same) {}
    }

    func testASmallerBatchReusesALargerBlockButATinyTensorDoesNot() {
        var big: Tensor? = Tensor(pooled: [8, 50])
        let block = big!.data
        big = nil
        let tiny = Tensor(pooled: [100])       // 400 > 2 x 100: not worth the large block
        XCTAssertNotEqual(tiny.data, block)
        let half = Tensor(pooled: [4, 50])     // 400 <= 2 x 200: reuses it
        XCTAssertEqual(half.data, block)
        XCTAssertEqual(half.capacity, 400)
        XCTAssertEqual(half.shape, [4, 50])
        half.fill(1)
        XCTAssertEqual(half.array, Array(repeating: 1, count: 200))
        withExtendedLifetime(tiny) {}
    }

    func testTrimFreesOnlyWaitingBlocks() {
        let kept = Tensor(pooled: [300])
        var released: Tensor? = Tensor(pooled: [700])
        released = nil
        XCTAssertNil(released)
        let before = TensorPool.allocatedBytes
        TensorPool.trim()
        XCTAssertEqual(before - TensorPool.allocatedBytes, 700 * 4)
        withExtendedLifetime(kept) {}
    }
}
