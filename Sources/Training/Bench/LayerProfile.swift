import Distributed
import Foundation
import NN
import Optim
import Tensors

/// Where a SimCLR training step's time goes, or an inference forward pass's, by kind of work
/// (`simclr bench step --profile`): the step of `StepBenchmark`, its network built with
/// `LayerTimings`, averaged over the timed steps.
public enum LayerProfile {
    public struct Row {
        public var kind: LayerTimings.Kind
        /// Seconds per step.
        public var seconds: Double
        /// Share of the whole step.
        public var share: Double
    }

    /// One row per kind of work, in `LayerTimings.Kind` order; the rows sum to the step.
    public static func run(model: ModelSpec, batch: Int, projectionHidden: Int = 512, projectionDimension: Int = 128,
                           kernels: KernelPolicy = .default, warmup: Int = 1, iterations: Int = 3,
                           bucketFloats: Int? = BucketedAllReduce.defaultBucketFloats,
                           communicator comm: Communicator) throws -> [Row] {
        let timings = LayerTimings()
        let (step, optimizer, x) = try StepBenchmark.simclrStep(
            model: model, batch: batch, projectionHidden: projectionHidden, projectionDimension: projectionDimension,
            kernels: kernels, timings: timings, bucketFloats: bucketFloats, communicator: comm)
        return profile(timings, warmup: warmup, iterations: iterations, communicator: comm) {
            _ = step.run(x)
            let previous = timings.enter(.optimizer)
            optimizer.step(lr: 0.01)
            timings.enter(previous)
        }
    }

    /// The same for the encoder's inference forward pass on this rank's share of `batch` random images.
    public static func runForward(model: ModelSpec, batch: Int, kernels: KernelPolicy = .default, warmup: Int = 1,
                                  iterations: Int = 3, communicator comm: Communicator) throws -> [Row] {
        let timings = LayerTimings()
        let store = ParameterStore()
        let encoder = ResNet(model.resNetConfig, store: store, kernels: kernels, timings: timings)
        store.finalize(seed: 0)
        let x = StepBenchmark.randomInput([try StepBenchmark.localBatch(batch, comm), model.imageSize, model.imageSize,
                                           model.inputChannels], seed: UInt64(comm.rank))
        return profile(timings, warmup: warmup, iterations: iterations, communicator: comm) {
            _ = encoder.forward(x, mode: .inference)
        }
    }

    /// Runs `runStep`, whose network records into `timings`, and reads the timed steps' totals.
    private static func profile(_ timings: LayerTimings, warmup: Int, iterations: Int, communicator comm: Communicator,
                                _ runStep: () -> Void) -> [Row] {
        for _ in 0..<warmup { runStep() }
        comm.barrier()
        timings.reset()
        for _ in 0..<iterations { runStep() }
        timings.enter(.other)
        let total = timings.seconds.reduce(0, +)
        return LayerTimings.Kind.allCases.map { kind in
            let s = timings.seconds[kind.rawValue]
            return Row(kind: kind, seconds: s / Double(iterations), share: total > 0 ? s / total : 0)
        }
    }
}
