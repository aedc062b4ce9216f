import Dispatch

/// Opt-in wall-clock time of a step's work by kind (`simclr bench step --profile`).
///
/// Exclusive: the clock is always charging one kind, and `enter(_:)` switches it, returning the
/// kind to switch back to. A layer enters its kind for the length of its call, so work nested in
/// it (im2col inside a convolution) is charged to the inner kind only and the kinds sum to the step.
/// Off unless `active` is set: then `enter` is one nil check and no clock is read.
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

    /// The timings being recorded, or nil (the default) for none.
    nonisolated(unsafe) public static var active: LayerTimings?

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
    @inline(__always) @discardableResult
    public static func enter(_ kind: Kind) -> Kind {
        guard let timings = active else { return .other }
        return timings.switchTo(kind)
    }

    /// `enter(kind)` from part 0 of a `ChunkPlan` only: the clock is one thread's, and every part
    /// runs the same mix of work.
    @inline(__always)
    public static func enter(_ kind: Kind, part: Int) {
        if part == 0 { enter(kind) }
    }

    private func switchTo(_ kind: Kind) -> Kind {
        let now = DispatchTime.now().uptimeNanoseconds
        seconds[current.rawValue] += Double(now &- since) * 1e-9
        since = now
        let previous = current
        current = kind
        return previous
    }
}
