import Distributed
import Foundation
import NN
import Optim
import Tensors

/// One SimCLR step's forward, loss and backward across ranks, leaving the summed gradient of the
/// global loss in the parameter store (the optimiser step is the caller's). Buffers are reused from
/// step to step.
final class SimCLRStep {
    struct Output {
        var loss: Float
        var accuracy: Float
        var communicationSeconds: Double
    }

    let net: SimCLRNetwork
    let comm: Communicator
    let loss: NTXentLoss
    /// Images per rank, and per gradient-cache chunk.
    let localBatch: Int
    let chunk: Int?
    /// The gradient all-reduce, started during the (last) backward pass.
    let reduction: BucketedAllReduce
    private var zLocal = Workspace(), gathered = Workspace(), canonical = Workspace()
    private var dCanonical = Workspace(), dzLocal = Workspace(), chunkInput = Workspace(), dzChunk = Workspace()
    private var savedBuffers: [Float] = []

    /// - Parameters:
    ///   - bucketFloats: gradient floats per all-reduce started during the backward pass; nil for one
    ///     all-reduce after it.
    ///   - syncBatchNorm: whether the network's BatchNorm statistics are the global batch's (with
    ///     more than one rank; the buckets are then paced by their all-reduces).
    init(net: SimCLRNetwork, comm: Communicator, temperature: Float, localBatch: Int, microBatch: Int?,
         bucketFloats: Int?, syncBatchNorm: Bool) {
        self.net = net
        self.comm = comm
        reduction = BucketedAllReduce(communicator: comm, buffer: net.store.grads, count: net.store.count,
                                      bucketFloats: bucketFloats)
        net.gradientsReady = { [reduction] offset in reduction.ready(from: offset) }
        if syncBatchNorm && comm.size > 1 { reduction.synchroniseStatistics(of: net.batchNorms) }
        loss = try! NTXentLoss(temperature: temperature)
        self.localBatch = localBatch
        chunk = microBatch
    }

    /// x: [2b, H, W, C], view-major (rows 0..<b the first views of the rank's b images).
    func run(_ x: Tensor) -> Output {
        precondition(x.shape[0] == 2 * localBatch, "SimCLRStep: expected \(2 * localBatch) views, got \(x.shape)")
        let b = localBatch, p = comm.size
        net.store.zeroGrad()
        var communication = 0.0

        // z: [2b, D], this rank's projections.
        let z: Tensor
        if let m = chunk {
            let d = net.head.outputDimension
            z = zLocal.get([2 * b, d])
            // First pass: projections only. Running statistics are restored afterwards so that
            // they are updated once, by the recomputation.
            saveBuffers()
            for c in 0..<(b / m) {
                let zc = net.forward(slice(x, chunk: c, of: m), mode: .training)   // [2m, D]
                for v in 0..<2 {
                    (z.data + (v * b + c * m) * d).update(from: zc.data + v * m * d, count: m * d)
                }
            }
            restoreBuffers()
        } else {
            z = net.forward(x, mode: .training)
        }
        let d = z.shape[1]

        // Z: [P, 2, b, D] gathered rank-major, reordered to the canonical [2, P·b, D] NT-Xent expects.
        let all = gathered.get([p * 2 * b, d])
        let t0 = Date()
        comm.allGather(z.data, count: 2 * b * d, into: all.data)
        communication += Date().timeIntervalSince(t0)
        let zAll = canonical.get([2 * p * b, d])
        let dzAll = dCanonical.get([2 * p * b, d])
        for r in 0..<p {
            for v in 0..<2 {
                (zAll.data + (v * p * b + r * b) * d).update(from: all.data + ((r * 2 + v) * b) * d, count: b * d)
            }
        }
        let out = loss.lossAndGradient(zAll, dz: dzAll)
        // This rank's rows of dZ: exactly dL/dz for its views.
        let dz = dzLocal.get([2 * b, d])
        for v in 0..<2 {
            (dz.data + v * b * d).update(from: dzAll.data + (v * p * b + comm.rank * b) * d, count: b * d)
        }

        if let m = chunk {
            for c in 0..<(b / m) {
                _ = net.forward(slice(x, chunk: c, of: m), mode: .training)
                let dzc = dzChunk.get([2 * m, d])
                for v in 0..<2 {
                    (dzc.data + v * m * d).update(from: dz.data + (v * b + c * m) * d, count: m * d)
                }
                if c == b / m - 1 { reduction.begin() }
                net.backward(dzc)
            }
        } else {
            reduction.begin()
            net.backward(dz)
        }
        // Only the wait for what is still in flight counts as communication: the started buckets
        // moved on while the backward pass ran.
        let t1 = Date()
        reduction.finish()
        communication += Date().timeIntervalSince(t1)
        return Output(loss: out.loss, accuracy: out.accuracy, communicationSeconds: communication)
    }

    /// Both views of images c·m ..< (c+1)·m of x: [2m, H, W, C], view-major like x.
    private func slice(_ x: Tensor, chunk c: Int, of m: Int) -> Tensor {
        let row = x.count / x.shape[0]
        let out = chunkInput.get([2 * m] + Array(x.shape.dropFirst()))
        for v in 0..<2 {
            (out.data + v * m * row).update(from: x.data + (v * localBatch + c * m) * row, count: m * row)
        }
        return out
    }

    private func saveBuffers() {
        savedBuffers.removeAll(keepingCapacity: true)
        for buffer in net.store.buffers {
            savedBuffers.append(contentsOf: UnsafeBufferPointer(start: buffer.tensor.data, count: buffer.tensor.count))
        }
    }

    private func restoreBuffers() {
        var offset = 0
        savedBuffers.withUnsafeBufferPointer { saved in
            for buffer in net.store.buffers {
                buffer.tensor.data.update(from: saved.baseAddress! + offset, count: buffer.tensor.count)
                offset += buffer.tensor.count
            }
        }
    }
}
