import Foundation
import Images
import Tensors
import XCTest

final class LoaderTests: XCTestCase {
    func testShardsAreDisjointCompleteAndEqual() {
        let order = Sharding.epochOrder(count: 103, seed: 5, epoch: 1)
        XCTAssertEqual(order.sorted(), Array(0..<103))
        XCTAssertNotEqual(order, Sharding.epochOrder(count: 103, seed: 5, epoch: 2))
        for dropLast in [true, false] {
            let shards = (0..<3).map { Sharding.batches(order: order, globalBatch: 12, rank: $0, worldSize: 3, dropLast: dropLast) }
            let flat = shards.map { $0.flatMap { $0 } }
            XCTAssertEqual(Set(flat.map(\.count)).count, 1, "equal shards")
            XCTAssertEqual(Set(flat.joined()).count, flat.map(\.count).reduce(0, +), "disjoint")
            // 103 = 3 * 34 + 1: one sample dropped; 102 = 8 * 12 + 6 more without dropLast.
            XCTAssertEqual(Set(flat.joined()), Set(order.prefix(dropLast ? 96 : 102)))
            XCTAssertTrue(shards.allSatisfy { $0.count == (dropLast ? 8 : 9) && $0[0].count == 4 })
            // Step s of P ranks is the global batch of one process with the whole batch.
            let single = Sharding.batches(order: order, globalBatch: 12, rank: 0, worldSize: 1, dropLast: dropLast)
            // (The last partial step differs by the N mod P samples P ranks drop.)
            for s in 0..<8 { XCTAssertEqual(shards.flatMap { $0[s] }, single[s]) }
            if !dropLast { XCTAssertEqual(shards.flatMap { $0[8] }, Array(single[8].prefix(6))) }
        }
        XCTAssertEqual(Sharding.epochOrder(count: 5, seed: 0, epoch: 0, shuffle: false), [0, 1, 2, 3, 4])
    }

    /// Every (epoch, index, view) -> the view made from that key alone, whatever the workers.
    func testViewMajorBatchesDeterministicAcrossWorkers() throws {
        let data = SyntheticDataset(count: 22, classes: 4, size: 12, channels: 3, seed: 2)
        let aug = SimCLRAugmentation(size: 10, normalization: .imageNet)
        func run(workers: Int, prefetch: Int) throws -> [(images: [Float], labels: [Int], indices: [Int])] {
            let loader = DataLoader(dataset: data, transform: aug, batchSize: 4, views: 2, seed: 9, dropLast: false,
                                    workers: workers, prefetch: prefetch)
            XCTAssertEqual(loader.batchesPerEpoch, 6)
            var out: [(images: [Float], labels: [Int], indices: [Int])] = []
            for epoch in [3, 4] {
                loader.start(epoch: epoch)
                while let batch = try loader.next() {
                    XCTAssertEqual(batch.images.shape, [2 * batch.count, 10, 10, 3])
                    out.append((batch.images.array, batch.labels, batch.indices))
                }
            }
            return out
        }
        let inline = try run(workers: 0, prefetch: 1)
        let threaded = try run(workers: 3, prefetch: 3)
        XCTAssertEqual(inline.count, 12)
        XCTAssertEqual(inline.last!.indices.count, 2)   // 22 = 5 * 4 + 2
        for (a, b) in zip(inline, threaded) {
            XCTAssertEqual(a.images, b.images)
            XCTAssertEqual(a.labels, b.labels)
            XCTAssertEqual(a.indices, b.indices)
        }
        XCTAssertEqual(Set(inline.prefix(6).flatMap(\.indices)), Set(0..<22))
        // Row v * count + j is view v of image j, made from the key (seed, epoch, index, view).
        let first = inline[7]   // epoch 4, step 1
        let count = first.indices.count
        let scratch = AugmentScratch()
        for j in 0..<count {
            XCTAssertEqual(first.labels[j], data.label(at: first.indices[j]))
            for v in 0..<2 {
                var expected = [Float](repeating: 0, count: 300)
                var random = RandomStream(seed: 9, epoch: 4, index: first.indices[j], view: v)
                aug.apply(try data.image(at: first.indices[j]), random: &random, into: &expected, scratch: scratch)
                let row = v * count + j
                XCTAssertEqual(Array(first.images[(row * 300)..<((row + 1) * 300)]), expected)
            }
        }
    }

    func testTwoRanksSeeTheViewsOfOneProcess() throws {
        let data = SyntheticDataset(count: 16, classes: 4, size: 8, channels: 1)
        let aug = SimCLRAugmentation(size: 8)
        func views(rank: Int, worldSize: Int, batch: Int) throws -> [Int: [Float]] {
            let loader = DataLoader(dataset: data, transform: aug, batchSize: batch, rank: rank, worldSize: worldSize,
                                    seed: 1, workers: 2)
            loader.start(epoch: 0)
            var byIndex: [Int: [Float]] = [:]
            while let b = try loader.next() {
                let images = b.images.array
                for (j, index) in b.indices.enumerated() {
                    var both: [Float] = []
                    for v in 0..<2 {
                        let row = v * b.count + j
                        both += images[(row * 64)..<(row * 64 + 64)]
                    }
                    byIndex[index] = both
                }
            }
            return byIndex
        }
        let single = try views(rank: 0, worldSize: 1, batch: 4)
        var merged: [Int: [Float]] = [:]
        for r in 0..<2 { merged.merge(try views(rank: r, worldSize: 2, batch: 2)) { a, _ in a } }
        XCTAssertEqual(single.count, 16)
        XCTAssertEqual(merged, single)
    }

    func testUnreadableImagesAreReplacedAndCounted() throws {
        let folder = TestFolder()
        folder.write("a/0.jpg", TestFolder.jpeg(1))
        let whole = TestFolder.jpeg(5, width: 64, height: 48)
        folder.write("a/1.jpg", Array(whole.prefix(whole.count / 2)))
        folder.write("b/2.jpg", TestFolder.jpeg(2))
        folder.write("b/3.jpg", TestFolder.jpeg(3))
        var lines: [String] = []
        let data = try ImageFolderDataset(root: folder.root, skipLog: SkipLog { lines.append($0) })
        XCTAssertEqual(data.count, 4)
        let loader = DataLoader(dataset: data, transform: SimCLRAugmentation(size: 8), batchSize: 4, shuffle: false,
                                workers: 1)
        for epoch in 0..<2 {
            loader.start(epoch: epoch)
            let batch = try XCTUnwrap(try loader.next())
            XCTAssertEqual(batch.indices, [0, 2, 2, 3])   // sample 1 replaced by the next good one
            XCTAssertEqual(batch.labels, [0, 1, 1, 1])
            XCTAssertEqual(batch.replaced, 1)
            XCTAssertNil(try loader.next())
        }
        XCTAssertEqual(loader.unreadableCount, 1)
        XCTAssertEqual(data.skipLog.count, 1)
        XCTAssertEqual(lines.count, 1)
        XCTAssertGreaterThan(loader.cachedBytes, 0)
    }

    func testRestartingAnEpochMidway() throws {
        let data = SyntheticDataset(count: 40, classes: 4, size: 8)
        let loader = DataLoader(dataset: data, transform: EvaluationTransform(size: 8), batchSize: 4, views: 1,
                                workers: 2, prefetch: 3)
        loader.start(epoch: 0)
        _ = try loader.next()
        loader.start(epoch: 1)
        var seen: [Int] = []
        while let b = try loader.next() { seen += b.indices }
        XCTAssertEqual(seen.sorted(), Array(0..<40))
        XCTAssertEqual(seen, Sharding.epochOrder(count: 40, seed: 0, epoch: 1))
    }

    func testStartingAnEpochPartwayGivesTheSameLaterBatches() throws {
        // A resumed run starts mid-epoch; the batches after the skipped ones must be those of a full pass.
        let data = SyntheticDataset(count: 40, classes: 4, size: 8)
        for workers in [0, 2] {
            let loader = DataLoader(dataset: data, transform: SimCLRAugmentation(size: 8), batchSize: 4,
                                    workers: workers, prefetch: 3)
            loader.start(epoch: 3)
            var full: [([Int], [Float])] = []
            while let b = try loader.next() { full.append((b.indices, b.images.array)) }
            loader.start(epoch: 3, firstStep: 6)
            var rest: [([Int], [Float])] = []
            while let b = try loader.next() { rest.append((b.indices, b.images.array)) }
            XCTAssertEqual(rest.count, full.count - 6)
            for (a, b) in zip(rest, full.suffix(from: 6)) {
                XCTAssertEqual(a.0, b.0)
                XCTAssertEqual(a.1, b.1)
            }
        }
    }

    func testBenchmarkRuns() {
        // IMAGES_BENCH_SECONDS=1 in a release build gives meaningful figures; the default only checks it runs.
        let seconds = Double(ProcessInfo.processInfo.environment["IMAGES_BENCH_SECONDS"] ?? "") ?? 0.01
        let results = benchmarkData(seconds: seconds, threads: 2)
        for r in results {
            print(String(format: "bench %@: %.0f images/s on %d threads (%.0f per core)", r.name, r.imagesPerSecond,
                         r.threads, r.perCore))
        }
        XCTAssertEqual(results.count, 6)
        XCTAssertTrue(results.allSatisfy { $0.imagesPerSecond >= 0 && !$0.name.isEmpty })
    }
}
