import Foundation
@testable import NN
import Tensors
import TestSupport
import XCTest

/// An in-process all-reduce between two threads (ranks 0 and 1): each call blocks until the other
/// rank makes its matching call, then both hold the element-wise sum.
private final class PairAllReduce {
    private let condition = NSCondition()
    private var slots: [[Float]] = [[], []]
    private var arrived = 0, generation = 0

    private func barrier() {
        condition.lock()
        arrived += 1
        if arrived == 2 {
            arrived = 0
            generation += 1
            condition.broadcast()
        } else {
            let mine = generation
            while mine == generation { condition.wait() }
        }
        condition.unlock()
    }

    func reduce(rank: Int, _ buffer: UnsafeMutablePointer<Float>, _ count: Int) {
        condition.lock()
        slots[rank] = Array(UnsafeBufferPointer(start: buffer, count: count))
        condition.unlock()
        barrier()
        condition.lock()
        let other = slots[1 - rank]
        condition.unlock()
        barrier()  // neither rank overwrites its slot before the other has read it
        for i in 0..<count { buffer[i] += other[i] }
    }
}

/// What each simulated rank hands back, behind a lock.
private final class RankResults: @unchecked Sendable {
    private let lock = NSLock()
    private var byRank: [Int: [[Float]]] = [:]
    func set(_ rank: Int, _ value: [[Float]]) { lock.lock(); byRank[rank] = value; lock.unlock() }
    func get(_ rank: Int) -> [[Float]] { lock.lock(); defer { lock.unlock() }; return byRank[rank] ?? [[], [], [], []] }
}

final class BatchNormTests: XCTestCase {
    private func values(_ p: Parameter) -> [Float] { Array(UnsafeBufferPointer(start: p.value, count: p.count)) }
    private func grads(_ p: Parameter) -> [Float] { Array(UnsafeBufferPointer(start: p.grad, count: p.count)) }

    func testGradientsMatchFiniteDifferencesInBothModes() {
        for shape in [[3, 2, 2, 3], [6, 4]] {
            for mode in [Mode.training, .evaluation] {
                for (affine, relu) in [(true, false), (false, false), (true, true)] {
                    let c = shape.last!
                    let (bn, store) = build { BatchNorm($0, name: "bn", channels: c, affine: affine, fusedReLU: relu) }
                    randomizeParameters(store, seed: 2)
                    for j in 0..<c {  // running statistics that differ from the batch's
                        bn.runningMean[j] = 0.3 * Float(j) - 0.2
                        bn.runningVar[j] = 0.5 + 0.4 * Float(j)
                    }
                    let label = "shape \(shape) \(mode) affine \(affine) relu \(relu)"
                    var x = randomTensor(shape, seed: 3)
                    if relu {
                        // Keep pre-activations away from 0 so no perturbation crosses the kink.
                        let twin = BatchNorm(ParameterStore(), name: "t", channels: c, affine: false)
                        twin.runningMean.copy(from: bn.runningMean); twin.runningVar.copy(from: bn.runningVar)
                        var found = false
                        for seed: UInt64 in 100..<300 where !found {
                            let candidate = randomTensor(shape, seed: seed)
                            let xhat = twin.forward(candidate, mode: mode)
                            found = (0..<xhat.count).allSatisfy { i in
                                let j = i % c
                                return abs(xhat[i] * (affine ? bn.weight!.value[j] : 1) + (affine ? bn.bias!.value[j] : 0)) > 0.1
                            }
                            if found { x = candidate }
                        }
                        XCTAssertTrue(found, "no input away from the ReLU kink for \(label)")
                    }
                    checkGradients(store: store, input: x, eps: 1e-3, forward: { bn.forward($0, mode: mode) },
                                   backward: { bn.backward($0) }, label)
                }
            }
        }
    }

    func testTrainingModeNormalisesWithBiasedVarianceAndTracksUnbiased() {
        let (n, c) = (10, 3)
        let (bn, store) = build { BatchNorm($0, name: "bn", channels: c) }
        randomizeParameters(store, seed: 4)
        let x = randomTensor([n, 1, 1, c], seed: 5, scale: 2)
        for i in 0..<x.count { x[i] += Float(i % c) }  // distinct channel means
        let y = bn.forward(x, mode: .training)
        var expected = [Float](repeating: 0, count: x.count)
        for j in 0..<c {
            let column = (0..<n).map { Double(x[$0 * c + j]) }
            let mean = column.reduce(0, +) / Double(n)
            let biased = column.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(n)
            for i in 0..<n {
                expected[i * c + j] = Float((column[i] - mean) / (biased + 1e-5).squareRoot()
                                            * Double(bn.weight!.value[j]) + Double(bn.bias!.value[j]))
            }
            XCTAssertEqual(bn.runningMean[j], Float(0.1 * mean), accuracy: 1e-6)
            XCTAssertEqual(bn.runningVar[j], Float(0.9 + 0.1 * biased * Double(n) / Double(n - 1)), accuracy: 1e-5)
        }
        assertClose(y.array, expected, rtol: 1e-5, atol: 1e-5)
        XCTAssertEqual(bn.numBatchesTracked[0], 1)
        _ = bn.forward(x, mode: .training)
        XCTAssertEqual(bn.numBatchesTracked[0], 2)
    }

    /// 35 channels (two 16-wide vector blocks and a scalar tail), more rows than one Float block,
    /// channel means large against their spread: forward and backward in Double beside the layer.
    func testVectorisedChannelsWithLargeMeansMatchDoubleFormulas() {
        let (n, c) = (70, 35)
        let (bn, store) = build { BatchNorm($0, name: "bn", channels: c, fusedReLU: true) }
        randomizeParameters(store, seed: 6)
        let x = randomTensor([n, c], seed: 7)
        for i in 0..<x.count { x[i] += 50 + Float(i % c) }
        let dy = randomTensor([n, c], seed: 8)
        let y = bn.forward(x, mode: .training)
        let dx = bn.backward(dy)
        var expectedY = [Float](repeating: 0, count: x.count), expectedDx = expectedY
        var expectedDGamma = [Float](repeating: 0, count: c), expectedDBeta = expectedDGamma
        for j in 0..<c {
            let column = (0..<n).map { Double(x[$0 * c + j]) }
            let mean = column.reduce(0, +) / Double(n)
            let invStd = 1 / (column.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(n) + 1e-5).squareRoot()
            let gamma = Double(bn.weight!.value[j]), beta = Double(bn.bias!.value[j])
            let xhat = column.map { ($0 - mean) * invStd }
            let g = (0..<n).map { gamma * xhat[$0] + beta > 0 ? Double(dy[$0 * c + j]) : 0 }
            let meanG = g.reduce(0, +) / Double(n)
            let meanGXhat = zip(g, xhat).map { $0 * $1 }.reduce(0, +) / Double(n)
            for i in 0..<n {
                expectedY[i * c + j] = Float(max(0, gamma * xhat[i] + beta))
                expectedDx[i * c + j] = Float(gamma * invStd * (g[i] - meanG - xhat[i] * meanGXhat))
            }
            expectedDGamma[j] = Float(meanGXhat * Double(n))
            expectedDBeta[j] = Float(meanG * Double(n))
        }
        assertClose(y.array, expectedY, rtol: 1e-4, atol: 1e-4)
        assertClose(dx.array, expectedDx, rtol: 1e-3, atol: 1e-4)
        assertClose(grads(bn.weight!), expectedDGamma, rtol: 1e-4, atol: 1e-4)
        assertClose(grads(bn.bias!), expectedDBeta, rtol: 1e-4, atol: 1e-4)
        // Written over dy, the same gradient, in dy's storage.
        let overwritten = dy.clone()
        let inPlace = bn.backward(overwritten, overwriting: true)
        XCTAssertEqual(inPlace.data, overwritten.data)
        XCTAssertEqual(inPlace.array, dx.array)
    }

    func testEvaluationModeUsesRunningStatisticsAndUpdatesNothing() {
        let c = 2
        let (bn, store) = build { BatchNorm($0, name: "bn", channels: c) }
        randomizeParameters(store, seed: 6)
        bn.runningMean[0] = 1; bn.runningMean[1] = -2
        bn.runningVar[0] = 4; bn.runningVar[1] = 0.25
        bn.numBatchesTracked[0] = 7
        let x = randomTensor([3, 2, 2, c], seed: 7)
        let y = bn.forward(x, mode: .evaluation).array  // copied: the next forward reuses the buffer
        let expected = (0..<x.count).map { i -> Float in
            let j = i % c
            return (x[i] - bn.runningMean[j]) / (bn.runningVar[j] + 1e-5).squareRoot() * bn.weight!.value[j] + bn.bias!.value[j]
        }
        assertClose(y, expected, rtol: 1e-5, atol: 1e-6)
        XCTAssertEqual(bn.runningMean.array, [1, -2])
        XCTAssertEqual(bn.runningVar.array, [4, 0.25])
        XCTAssertEqual(bn.numBatchesTracked[0], 7)
        // Evaluation of one image equals its row in a batch: no batch statistics involved.
        let single = Tensor(zeros: [1, 2, 2, c])
        single.data.update(from: x.data + 4 * c, count: 4 * c)
        XCTAssertEqual(bn.forward(single, mode: .evaluation).array, Array(y[4 * c..<8 * c]))
    }

    func testNamesAndInitialValues() {
        let store = ParameterStore()
        _ = BatchNorm(store, name: "layer1.0.bn2", channels: 4, zeroWeight: true)
        _ = BatchNorm(store, name: "head.4", channels: 3, affine: false)
        store.finalize(seed: 0)
        XCTAssertEqual(store.parameters.map(\.name), ["layer1.0.bn2.weight", "layer1.0.bn2.bias"])
        XCTAssertEqual(store.parameters.map(\.role), [.normWeight, .normBias])
        XCTAssertEqual(store.buffers.map(\.name), [
            "layer1.0.bn2.running_mean", "layer1.0.bn2.running_var", "layer1.0.bn2.num_batches_tracked",
            "head.4.running_mean", "head.4.running_var", "head.4.num_batches_tracked",
        ])
        XCTAssertEqual(store.buffer(named: "layer1.0.bn2.running_var")!.array, [1, 1, 1, 1])
        XCTAssertEqual(store.buffer(named: "head.4.num_batches_tracked")!.shape, [])
        XCTAssertEqual(values(store.parameters[0]), [0, 0, 0, 0])
    }

    func testReducerIsCalledInTrainingOnlyWithStatisticsThenGradientSums() {
        let c = 3
        let (bn, _) = build { BatchNorm($0, name: "bn", channels: c) }
        var calls: [Int] = []
        bn.reducer = { _, count in calls.append(count) }
        let x = randomTensor([4, c], seed: 8)
        _ = bn.forward(x, mode: .training)
        _ = bn.backward(x)
        XCTAssertEqual(calls, [c + 1, c, 2 * c])  // [Σx, count], Σ(x - mean)², [Σdy, Σdy·x̂]
        _ = bn.forward(x, mode: .evaluation)
        _ = bn.backward(x)
        XCTAssertEqual(calls.count, 3)
    }

    /// Two ranks each normalising half a batch with a reducer equal, row for row, one BatchNorm
    /// over the whole batch: outputs, input gradients, running statistics, and (summed over the
    /// ranks, as the trainer's gradient all-reduce does) parameter gradients.
    func testSynchronisedHalvesEqualTheWholeBatch() {
        for (shape, relu) in [([4, 3, 2, 5], false), ([4, 3, 2, 5], true), ([8, 6], false)] {
            let c = shape.last!
            let x = randomTensor(shape, seed: 9)
            let dy = randomTensor(shape, seed: 10)
            let half = x.count / 2
            let (whole, wholeStore) = build(seed: 3) { BatchNorm($0, name: "bn", channels: c, fusedReLU: relu) }
            randomizeParameters(wholeStore, seed: 11)
            wholeStore.zeroGrad()
            let y = whole.forward(x, mode: .training).array
            let dx = whole.backward(dy).array

            let pair = PairAllReduce()
            let halfShape = [shape[0] / 2] + shape.dropFirst()
            let results = RankResults()
            let done = DispatchGroup()
            for rank in 0..<2 {
                done.enter()
                let thread = Thread {
                    let (bn, store) = build(seed: 3) { BatchNorm($0, name: "bn", channels: c, fusedReLU: relu) }
                    randomizeParameters(store, seed: 11)
                    store.zeroGrad()
                    bn.reducer = { pair.reduce(rank: rank, $0, $1) }
                    let xs = Tensor(zeros: halfShape), dys = Tensor(zeros: halfShape)
                    xs.data.update(from: x.data + rank * half, count: half)
                    dys.data.update(from: dy.data + rank * half, count: half)
                    let y = bn.forward(xs, mode: .training).array
                    let dx = bn.backward(dys).array
                    results.set(rank, [y, dx, Array(UnsafeBufferPointer(start: store.grads, count: store.count)),
                                       bn.runningMean.array + bn.runningVar.array])
                    done.leave()
                }
                thread.start()
            }
            XCTAssertEqual(done.wait(timeout: .now() + 30), .success, "ranks deadlocked")
            let label = "shape \(shape) relu \(relu)"
            let (outputs, inputGrads) = (results.get(0)[0] + results.get(1)[0], results.get(0)[1] + results.get(1)[1])
            let paramGrads = [results.get(0)[2], results.get(1)[2]], running = [results.get(0)[3], results.get(1)[3]]
            assertClose(outputs, y, rtol: 1e-5, atol: 1e-5, "forward \(label)")
            assertClose(inputGrads, dx, rtol: 1e-4, atol: 1e-5, "dx \(label)")
            assertClose(zip(paramGrads[0], paramGrads[1]).map { $0 + $1 },
                        Array(UnsafeBufferPointer(start: wholeStore.grads, count: wholeStore.count)),
                        rtol: 1e-4, atol: 1e-5, "parameter gradients \(label)")
            XCTAssertEqual(running[0], running[1], "ranks' running statistics differ \(label)")
            assertClose(running[0], whole.runningMean.array + whole.runningVar.array, rtol: 1e-5, atol: 1e-6,
                        "running statistics \(label)")
        }
    }

    func testTwoThreadsGiveTheSameResultAsOne() {
        let previous = Threads.count
        defer { Threads.configure(previous) }
        let x = randomTensor([4, 32, 32, 16], seed: 12)  // large enough to be split across threads
        let dy = randomTensor(x.shape, seed: 13)
        var results: [[Float]] = []
        for threads in [1, 2] {
            Threads.configure(threads)
            let (bn, store) = build { BatchNorm($0, name: "bn", channels: 16, fusedReLU: true) }
            randomizeParameters(store, seed: 14)
            store.zeroGrad()
            results.append(bn.forward(x, mode: .training).array + bn.backward(dy).array
                           + Array(UnsafeBufferPointer(start: store.grads, count: store.count)) + bn.runningVar.array)
        }
        assertClose(results[1], results[0], rtol: 1e-5, atol: 1e-6)
    }
}
