import Distributed
import Foundation
import NN
import Optim
import Tensors

/// Where a SimCLR training step's time goes, by kind of work (`simclr bench step --profile`): the
/// step of `StepBenchmark` run with `LayerTimings` recording, averaged over the timed steps.
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
                           warmup: Int = 1, iterations: Int = 3,
                           bucketFloats: Int? = BucketedAllReduce.defaultBucketFloats,
                           communicator comm: Communicator) throws -> [Row] {
        let (step, optimizer, x) = try StepBenchmark.simclrStep(
            model: model, batch: batch, projectionHidden: projectionHidden, projectionDimension: projectionDimension,
            bucketFloats: bucketFloats, communicator: comm)
        func runStep() {
            _ = step.run(x)
            let previous = LayerTimings.enter(.optimizer)
            optimizer.step(lr: 0.01)
            LayerTimings.enter(previous)
        }
        for _ in 0..<warmup { runStep() }
        let timings = LayerTimings()
        LayerTimings.active = timings
        defer { LayerTimings.active = nil }
        comm.barrier()
        timings.reset()
        for _ in 0..<iterations { runStep() }
        LayerTimings.enter(.other)
        let total = timings.seconds.reduce(0, +)
        return LayerTimings.Kind.allCases.map { kind in
            let s = timings.seconds[kind.rawValue]
            return Row(kind: kind, seconds: s / Double(iterations), share: total > 0 ? s / total : 0)
        }
    }
}
