import Dispatch

/// Wall-clock time of a step's work by kind (`simclr bench step --profile`), recorded by the layers
/// of a network built with it.
///
/// Exclusive: the clock is always charging one kind, and `enter(_:)` switches it, returning the
/// kind to switch back to. A layer enters its kind for the length of its call, so work nested in
/// it (im2col inside a convolution) is charged to the inner kind only and the kinds sum to the step.
/// A layer holds its timings as an optional; built without (nil), its `enter` is one nil check and
/// no clock is read.
public final class LayerTimings {
    public enum Kind: Int, CaseIterable, Sendable {
        case convForward, convBackward, columns, winogradTransforms, batchNormForward, batchNormBackward,
             activation, pooling, linear, optimizer, other

        public var label: String {
            switch self {
            case .convForward: "conv forward (gemm)"
            case .convBackward: "conv backward (gemm)"
            case .columns: "im2col/col2im"
            case .winogradTransforms: "Winograd transforms"
            case .batchNormForward: "BN forward"
            case .batchNormBackward: "BN backward"
            case .activation: "ReLU/residual"
            case .pooling: "pooling"
            case .linear: "head (linear)"
            case .optimizer: "optimizer"
            case .other: "other (loss, gather, all-reduce)"
            }
        }

        /// Whether the kind is element-wise work: BatchNorm, ReLU and residual adds, pooling.
        public var isElementWise: Bool {
            self == .batchNormForward || self == .batchNormBackward || self == .activation || self == .pooling
        }
    }

    /// Seconds per kind, indexed by `Kind.rawValue`.
    public private(set) var seconds = [Double](repeating: 0, count: Kind.allCases.count)
    private var current = Kind.other
    private var since = DispatchTime.now().uptimeNanoseconds

    public init() {}

    /// Clears the totals; the clock restarts charging `.other`.
    public func reset() {
        for i in seconds.indices { seconds[i] = 0 }
        current = .other
        since = DispatchTime.now().uptimeNanoseconds
    }

    /// Charges the time since the last switch to the current kind and switches to `kind`.
    /// Returns the kind that was current (pass it back to `enter` when the work of `kind` ends).
    @discardableResult
    public func enter(_ kind: Kind) -> Kind {
        let now = DispatchTime.now().uptimeNanoseconds
        seconds[current.rawValue] += Double(now &- since) * 1e-9
        since = now
        let previous = current
        current = kind
        return previous
    }
}

extension Optional where Wrapped == LayerTimings {
    /// `enter(kind)` on the timings a layer was built with; without them nothing, and `.other`.
    @inline(__always) @discardableResult
    public func enter(_ kind: LayerTimings.Kind) -> LayerTimings.Kind {
        guard let timings = self else { return .other }
        return timings.enter(kind)
    }

    /// `enter(kind)` from part 0 of a `ChunkPlan` only: the clock is one thread's, and every part
    /// runs the same mix of work.
    @inline(__always)
    public func enter(_ kind: LayerTimings.Kind, part: Int) {
        if part == 0 { enter(kind) }
    }
}
