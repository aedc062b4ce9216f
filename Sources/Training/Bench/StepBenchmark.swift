import Distributed
import Foundation
import NN
import Optim
import Tensors

/// Throughput of whole training steps on random inputs (data loading excluded), for comparison with
/// the PyTorch reference in `scripts/torch_reference/`. Every figure is a median over timed repetitions after
/// warm-up steps.
public enum StepBenchmark {
    public struct Result {
        public var mode: String
        public var imagesPerSecond: Double
        public var stepSeconds: [Double]
        public var communicationShare: Double
        public var peakResidentMegabytes: Double
        public var ranks: Int
        /// Where the step's memory is held after its last repetition, in MB: the layers' activation
        /// and gradient workspaces, the per-thread scratch buffers, the pool (backward gradients,
        /// and the activations of an inference forward pass), and parameters with their gradients.
        public var heldMegabytes: [(part: String, megabytes: Double)] = []
    }

    /// Inference-mode forward, supervised step (cross-entropy, backward, SGD) and, with `simclr`, the
    /// SimCLR step (two views, head, NT-Xent over the gathered batch, backward, all-reduce, SGD;
    /// BatchNorm statistics across ranks unless `syncBatchNorm` is false, as `pretrain --bn`).
    /// `batch` is global; each rank takes its share. The networks' convolutions take the paths `kernels` allows.
    public static func run(model: ModelSpec, batch: Int, simclr: Bool, projectionHidden: Int = 512,
                           projectionDimension: Int = 128, kernels: KernelPolicy = .default,
                           warmup: Int = 2, iterations: Int = 5,
                           bucketFloats: Int? = BucketedAllReduce.defaultBucketFloats, syncBatchNorm: Bool = true,
                           communicator comm: Communicator) throws -> [Result] {
        let local = try localBatch(batch, comm)
        let s = model.imageSize, c = model.inputChannels
        var results: [Result] = []
        func time(_ mode: String, workspaceBytes: () -> Int, parameters: Int, _ body: () -> Double) {
            for _ in 0..<warmup { _ = body() }
            var times: [Double] = [], comms: [Double] = []
            for _ in 0..<iterations {
                comm.barrier()
                let t0 = Date()
                comms.append(body())
                times.append(Date().timeIntervalSince(t0))
            }
            let slowest = times.map { comm.allReduceMax($0) }
            let median = slowest.sorted()[slowest.count / 2]
            results.append(Result(mode: mode, imagesPerSecond: Double(batch) / median, stepSeconds: slowest,
                                  communicationShare: comms.reduce(0, +) / times.reduce(0, +),
                                  peakResidentMegabytes: peakResidentMegabytes(), ranks: comm.size,
                                  heldMegabytes: [("activations", workspaceBytes()), ("scratch", Scratch.heldBytes),
                                                  ("pool", TensorPool.allocatedBytes),
                                                  ("parameters", 2 * parameters * MemoryLayout<Float>.size)]
                                    .map { ($0, Double($1) / 1_000_000) }))
        }

        if simclr {
            let (step, optimizer, x) = try simclrStep(model: model, batch: batch, projectionHidden: projectionHidden,
                                                      projectionDimension: projectionDimension, kernels: kernels,
                                                      timings: nil, bucketFloats: bucketFloats, syncBatchNorm: syncBatchNorm,
                                                      communicator: comm)
            let net = step.net
            time("simclr", workspaceBytes: { net.encoder.workspaceBytes + net.head.workspaceBytes },
                 parameters: net.store.count) {
                let out = step.run(x)
                optimizer.step(lr: 0.01)
                return out.communicationSeconds
            }
            return results
        }

        let store = ParameterStore()
        let encoder = ResNet(model.resNetConfig, store: store, kernels: kernels)
        encoder.needsInputGradient = false
        let classes = 10
        let fc = ClassifierHead(store, prefix: "fc", kind: .linear, inputDimension: encoder.featureDimension,
                                classes: classes)
        store.finalize(seed: 0)
        let optimizer = try SGD(store: store, momentum: 0.9, weightDecay: 5e-4)
        let loss = try CrossEntropyLoss()
        let x = randomInput([local, s, s, c], seed: UInt64(comm.rank))
        let labels = (0..<local).map { $0 % classes }
        let dLogits = Tensor(zeros: [local, classes])
        let workspaceBytes = { encoder.workspaceBytes + fc.workspaceBytes }
        time("forward", workspaceBytes: workspaceBytes, parameters: store.count) {
            _ = fc.forward(encoder.forward(x, mode: .inference), mode: .inference)
            return 0
        }
        time("train", workspaceBytes: workspaceBytes, parameters: store.count) {
            store.zeroGrad()
            let logits = fc.forward(encoder.forward(x, mode: .training), mode: .training)
            _ = loss.lossAndGradient(logits: logits, labels: labels, dLogits: dLogits)
            _ = encoder.backward(fc.backward(dLogits))
            let t0 = Date()
            if comm.size > 1 { comm.allReduceSum(store.grads, count: store.count) }
            let communication = Date().timeIntervalSince(t0)
            optimizer.step(lr: 0.01)
            return communication
        }
        return results
    }

    /// Each rank's share of the global `batch`.
    static func localBatch(_ batch: Int, _ comm: Communicator) throws -> Int {
        guard batch % comm.size == 0 else {
            throw TrainingError.invalidOption("--batch-size \(batch) does not divide among \(comm.size) ranks")
        }
        return batch / comm.size
    }

    /// The benchmarked SimCLR step (BatchNorm synchronised across ranks with `syncBatchNorm`, SGD) and
    /// this rank's random two-view input `[2 x local batch, S, S, C]`; shared with `LayerProfile`, which
    /// passes the `timings` the network records into.
    static func simclrStep(model: ModelSpec, batch: Int, projectionHidden: Int, projectionDimension: Int,
                           kernels: KernelPolicy, timings: LayerTimings?, bucketFloats: Int?, syncBatchNorm: Bool = true,
                           communicator comm: Communicator) throws -> (SimCLRStep, SGD, Tensor) {
        let local = try localBatch(batch, comm)
        let net = SimCLRNetwork(model: model, projectionHidden: projectionHidden,
                                projectionDimension: projectionDimension, projectionLayers: 2,
                                projectionBatchNorm: false, kernels: kernels, timings: timings, seed: 0)
        let optimizer = try SGD(store: net.store, momentum: 0.9, weightDecay: 5e-4)
        let step = SimCLRStep(net: net, comm: comm, temperature: 0.5, localBatch: local, microBatch: nil,
                              bucketFloats: bucketFloats, syncBatchNorm: syncBatchNorm)
        let x = randomInput([2 * local, model.imageSize, model.imageSize, model.inputChannels], seed: UInt64(comm.rank))
        return (step, optimizer, x)
    }

    static func randomInput(_ shape: [Int], seed: UInt64) -> Tensor {
        let t = Tensor(zeros: shape)
        var rng = RandomStream(seed: seed, epoch: -3)
        for i in 0..<t.count { t[i] = rng.normal() }
        return t
    }

    /// The largest resident set of this process so far, in MiB.
    public static func peakResidentMegabytes() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_maxrss) / 1024
    }
}
