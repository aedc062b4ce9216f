import Foundation
import Optim

/// A small limited-memory BFGS minimiser (Nocedal & Wright, *Numerical Optimization*, 2nd ed.,
/// algorithms 7.4 and 7.5) for smooth objectives of a flat `Double` vector, used by the linear
/// probes. Everything is in `Double`: the objective may compute in `Float` (matrix products), but
/// the iterates, the history and the line search's comparisons of nearby losses need the precision.
///
/// Each iteration:
/// - the direction is `d = −H g`, `H` the inverse Hessian estimate of the last `history` pairs
///   `s = x₊ − x`, `y = g₊ − g` (two-loop recursion), scaled by `γ = sᵀy / yᵀy` (eq. 7.20). A pair
///   with `sᵀy ≤ ε·yᵀy` is skipped, which keeps `H` positive definite.
/// - the step length satisfies the strong Wolfe conditions (algorithms 3.5 and 3.6: bracket, then
///   zoom by safeguarded cubic interpolation) with `c₁ = 1e-4`, `c₂ = 0.9`. The first trial is
///   `α = 1`, except with an empty history (first iteration, or after a reset) where it is
///   `min(1, 1/‖g‖₂)`, a unit step along the steepest descent.
/// - when the search runs out of evaluations it accepts the lowest point that satisfies the Armijo
///   (sufficient decrease) condition; when there is none, the history is dropped and the search is
///   retried along `−g`; a second failure stops the run (`.lineSearchFailed`, typically the loss
///   resolution reached, the iterate is still the best point found).
///
/// It stops when `max |gᵢ| ≤ gradientTolerance` (scikit-learn's `gtol`), when an accepted step
/// changes the loss by at most `lossChangeTolerance · max(|f|, |f₊|, 1)` (scipy's `ftol`), or after
/// `maxIterations` accepted steps.
public struct LBFGS: Sendable {
    /// How many `(s, y)` pairs the inverse Hessian estimate remembers (m).
    public let history: Int
    /// The most accepted steps.
    public let maxIterations: Int
    /// Stop when the largest gradient component, in absolute value, is at most this.
    public let gradientTolerance: Double
    /// Stop when a step changes the loss by at most this, relative to `max(|f|, |f₊|, 1)`.
    public let lossChangeTolerance: Double
    /// The most objective evaluations one line search may spend.
    public let maxLineSearchEvaluations: Int

    /// Armijo's sufficient-decrease constant c₁.
    static let sufficientDecrease = 1e-4
    /// The strong Wolfe curvature constant c₂ (0.9 is the usual choice for quasi-Newton methods).
    static let curvature = 0.9

    public init(history: Int = 10, maxIterations: Int = 1000, gradientTolerance: Double = 1e-5,
                lossChangeTolerance: Double = 1e-10, maxLineSearchEvaluations: Int = 25) throws {
        guard history >= 1 else {
            throw OptimError.invalidHyperparameter("L-BFGS history must be at least 1, got \(history)")
        }
        guard maxIterations >= 0 else {
            throw OptimError.invalidHyperparameter("L-BFGS max iterations must not be negative, got \(maxIterations)")
        }
        guard gradientTolerance >= 0, lossChangeTolerance >= 0 else {
            throw OptimError.invalidHyperparameter(
                "L-BFGS tolerances must not be negative, got gradient \(gradientTolerance), loss change \(lossChangeTolerance)")
        }
        guard maxLineSearchEvaluations >= 1 else {
            throw OptimError.invalidHyperparameter(
                "L-BFGS line search needs at least 1 evaluation, got \(maxLineSearchEvaluations)")
        }
        self.history = history
        self.maxIterations = maxIterations
        self.gradientTolerance = gradientTolerance
        self.lossChangeTolerance = lossChangeTolerance
        self.maxLineSearchEvaluations = maxLineSearchEvaluations
    }

    /// Why a run stopped.
    public enum StopReason: String, Sendable, Equatable {
        /// `max |gᵢ| ≤ gradientTolerance`.
        case gradientTolerance
        /// The last step changed the loss by less than `lossChangeTolerance` (relative).
        case lossChange
        /// `maxIterations` steps were taken.
        case maxIterations
        /// No step along the quasi-Newton direction nor along `−g` decreased the loss.
        case lineSearchFailed
        /// The objective was not finite at the starting point.
        case nonFiniteLoss
    }

    /// What a run did.
    public struct Report: Sendable, Equatable {
        /// Accepted steps.
        public var iterations: Int
        /// Calls of the objective.
        public var evaluations: Int
        /// The loss at the returned point.
        public var loss: Double
        /// `max |gᵢ|` at the returned point.
        public var gradientMaxNorm: Double
        public var stopReason: StopReason

        /// Whether a tolerance was met (rather than a limit or a failure).
        public var converged: Bool { stopReason == .gradientTolerance || stopReason == .lossChange }
    }

    /// The objective: writes `∂f/∂x` into `gradient` (overwritten) and returns `f(x)`.
    public typealias Objective = (_ x: UnsafeBufferPointer<Double>, _ gradient: UnsafeMutableBufferPointer<Double>) -> Double

    /// Minimises `objective` from `x`, leaving the best point found in `x`.
    public func minimize(_ x: inout [Double], _ objective: Objective) -> Report {
        let n = x.count
        return x.withUnsafeMutableBufferPointer { xb in
            Run(n: n, history: history).minimize(xb.baseAddress!, options: self, objective)
        }
    }
}

/// The buffers of one minimisation: iterate, gradient, direction, trial point, and the history.
private final class Run {
    let n: Int, m: Int
    let g: UnsafeMutablePointer<Double>         // gradient at x: [n]
    let d: UnsafeMutablePointer<Double>         // search direction: [n]
    let xTrial: UnsafeMutablePointer<Double>    // x + α d: [n]
    let gTrial: UnsafeMutablePointer<Double>    // gradient at xTrial: [n]
    let s: UnsafeMutablePointer<Double>         // steps, ring of m rows: [m, n]
    let y: UnsafeMutablePointer<Double>         // gradient changes, ring of m rows: [m, n]
    var rho: [Double]                           // 1 / sᵀy per stored pair: [m]
    var alphaBuffer: [Double]                   // two-loop coefficients: [m]
    var newest = -1                             // ring index of the newest pair
    var stored = 0                              // pairs in the ring
    var gamma = 1.0                             // initial inverse Hessian scale sᵀy / yᵀy
    var evaluations = 0

    init(n: Int, history: Int) {
        self.n = n
        m = history
        g = .allocate(capacity: Swift.max(1, n))
        d = .allocate(capacity: Swift.max(1, n))
        xTrial = .allocate(capacity: Swift.max(1, n))
        gTrial = .allocate(capacity: Swift.max(1, n))
        s = .allocate(capacity: Swift.max(1, m * n))
        y = .allocate(capacity: Swift.max(1, m * n))
        rho = [Double](repeating: 0, count: m)
        alphaBuffer = [Double](repeating: 0, count: m)
    }

    deinit {
        g.deallocate(); d.deallocate(); xTrial.deallocate(); gTrial.deallocate()
        s.deallocate(); y.deallocate()
    }

    func evaluate(_ objective: LBFGS.Objective, at point: UnsafeMutablePointer<Double>,
                  gradient: UnsafeMutablePointer<Double>) -> Double {
        evaluations += 1
        return objective(UnsafeBufferPointer(start: point, count: n), UnsafeMutableBufferPointer(start: gradient, count: n))
    }

    func minimize(_ x: UnsafeMutablePointer<Double>, options: LBFGS, _ objective: LBFGS.Objective) -> LBFGS.Report {
        var f = evaluate(objective, at: x, gradient: g)
        var iterations = 0
        func report(_ reason: LBFGS.StopReason) -> LBFGS.Report {
            LBFGS.Report(iterations: iterations, evaluations: evaluations, loss: f,
                         gradientMaxNorm: maxAbs(g, n), stopReason: reason)
        }
        guard f.isFinite else { return report(.nonFiniteLoss) }

        while true {
            if maxAbs(g, n) <= options.gradientTolerance { return report(.gradientTolerance) }
            if iterations >= options.maxIterations { return report(.maxIterations) }

            var accepted: LineSearch.Outcome?
            for attempt in 0..<2 {
                if attempt == 1 {
                    // The quasi-Newton direction found no decrease: forget the curvature pairs
                    // (they may be stale) and search along the steepest descent instead.
                    if stored == 0 { break }
                    stored = 0; newest = -1; gamma = 1
                }
                direction()
                var slope = dotProduct(g, d, n)
                if !(slope < 0) {
                    stored = 0; newest = -1; gamma = 1
                    direction()
                    slope = dotProduct(g, d, n)
                }
                guard slope < 0 else { break }   // a gradient that is not finite
                let first = stored == 0 ? Swift.min(1, 1 / Foundation.sqrt(-slope)) : 1
                var search = LineSearch(phi0: f, slope0: slope, budget: options.maxLineSearchEvaluations)
                let outcome = search.run(initialStep: first) { alpha in
                    for i in 0..<n { xTrial[i] = x[i] + alpha * d[i] }
                    let ft = evaluate(objective, at: xTrial, gradient: gTrial)
                    return (ft, dotProduct(gTrial, d, n))
                }
                if let outcome {
                    accepted = outcome
                    break
                }
            }
            guard let step = accepted else { return report(.lineSearchFailed) }
            if !step.isLastEvaluated {
                // The search ended on a worse trial than its best Armijo point: evaluate that again
                // so the gradient in gTrial belongs to it.
                for i in 0..<n { xTrial[i] = x[i] + step.alpha * d[i] }
                _ = evaluate(objective, at: xTrial, gradient: gTrial)
            }

            remember(alpha: step.alpha)
            for i in 0..<n { x[i] = xTrial[i]; g[i] = gTrial[i] }
            let previous = f
            f = step.phi
            iterations += 1
            let scale = Swift.max(abs(previous), abs(f), 1)
            if previous - f <= options.lossChangeTolerance * scale { return report(.lossChange) }
        }
    }

    /// Stores the pair of the accepted step `s = α d`, `y = g(xTrial) − g(x)` when it has positive
    /// curvature.
    func remember(alpha: Double) {
        var sy = 0.0, yy = 0.0
        for i in 0..<n {
            let yi = gTrial[i] - g[i]
            sy += alpha * d[i] * yi
            yy += yi * yi
        }
        guard sy > Double.ulpOfOne * yy, yy > 0 else { return }
        // The slot after the newest holds the oldest pair once the ring is full: overwrite it only
        // now that the new pair is known to be kept.
        let slot = (newest + 1) % m
        let sRow = s + slot * n, yRow = y + slot * n
        for i in 0..<n {
            sRow[i] = alpha * d[i]
            yRow[i] = gTrial[i] - g[i]
        }
        newest = slot
        stored = Swift.min(stored + 1, m)
        rho[slot] = 1 / sy
        gamma = sy / yy
    }

    /// `d = −H g` by the two-loop recursion (Nocedal & Wright, algorithm 7.4).
    func direction() {
        for i in 0..<n { d[i] = -g[i] }
        var slot = newest
        for _ in 0..<stored {
            let a = rho[slot] * dotProduct(s + slot * n, d, n)
            alphaBuffer[slot] = a
            let yRow = y + slot * n
            for i in 0..<n { d[i] -= a * yRow[i] }
            slot = (slot - 1 + m) % m
        }
        for i in 0..<n { d[i] *= gamma }
        slot = (newest - stored + 1 + m) % m
        for _ in 0..<stored {
            let b = rho[slot] * dotProduct(y + slot * n, d, n)
            let sRow = s + slot * n
            let a = alphaBuffer[slot]
            for i in 0..<n { d[i] += (a - b) * sRow[i] }
            slot = (slot + 1) % m
        }
    }
}

/// A one-dimensional search for a step length α satisfying the strong Wolfe conditions along a
/// descent direction, on `φ(α) = f(x + α d)` and `φ'(α) = ∇f(x + α d)ᵀ d`:
///
///     φ(α) ≤ φ(0) + c₁ α φ'(0)        (sufficient decrease)
///     |φ'(α)| ≤ c₂ |φ'(0)|            (curvature)
///
/// Nocedal & Wright algorithm 3.5 (bracketing) and 3.6 (zoom). Trial steps come from the minimiser
/// of the cubic through the two ends' values and slopes; in zoom a cubic step closer than 10% of
/// the interval to either end is replaced by bisection so the interval always shrinks.
struct LineSearch {
    struct Point { var alpha: Double, phi: Double, slope: Double }

    /// The accepted step; `isLastEvaluated` says whether it was the last trial evaluated (whose
    /// point and gradient are still in the caller's trial buffers).
    struct Outcome { var alpha: Double, phi: Double, slope: Double, isLastEvaluated: Bool, satisfiesWolfe: Bool }

    /// `(φ(α), φ'(α))`.
    typealias Evaluate = (_ alpha: Double) -> (phi: Double, slope: Double)

    let phi0: Double, slope0: Double
    /// Evaluations left.
    private(set) var budget: Int
    private var last = -1.0

    init(phi0: Double, slope0: Double, budget: Int) {
        precondition(slope0 < 0, "LineSearch: the direction must descend, slope \(slope0)")
        self.phi0 = phi0
        self.slope0 = slope0
        self.budget = budget
    }

    private mutating func trial(_ alpha: Double, _ evaluate: Evaluate) -> Point {
        budget -= 1
        last = alpha
        let (phi, slope) = evaluate(alpha)
        return Point(alpha: alpha, phi: phi, slope: slope)
    }

    private func armijo(_ p: Point) -> Bool {
        p.phi.isFinite && p.phi <= phi0 + LBFGS.sufficientDecrease * p.alpha * slope0
    }

    private func curvature(_ p: Point) -> Bool { abs(p.slope) <= -LBFGS.curvature * slope0 }

    private func outcome(_ p: Point, wolfe: Bool) -> Outcome {
        Outcome(alpha: p.alpha, phi: p.phi, slope: p.slope, isLastEvaluated: p.alpha == last, satisfiesWolfe: wolfe)
    }

    /// The accepted step, or nil when no trial decreased the loss enough.
    mutating func run(initialStep: Double, _ evaluate: Evaluate) -> Outcome? {
        var previous = Point(alpha: 0, phi: phi0, slope: slope0)
        var alpha = initialStep
        var first = true
        while budget > 0 {
            let p = trial(alpha, evaluate)
            if !armijo(p) || (!first && p.phi >= previous.phi) {
                return zoom(low: previous, high: p, evaluate)
            }
            if curvature(p) { return outcome(p, wolfe: true) }
            if p.slope >= 0 { return zoom(low: p, high: previous, evaluate) }
            // Still descending at α: extrapolate, at least 1% beyond α and at most 10 times it.
            let lo = p.alpha + 0.01 * (p.alpha - previous.alpha), hi = 10 * p.alpha
            alpha = Self.cubicMinimizer(previous, p, within: lo, hi)
            previous = p
            first = false
        }
        return previous.alpha > 0 ? outcome(previous, wolfe: false) : nil
    }

    /// Algorithm 3.6: `low` satisfies Armijo and has the lowest φ seen so far; the interval between
    /// `low` and `high` contains strong Wolfe steps.
    private mutating func zoom(low: Point, high: Point, _ evaluate: Evaluate) -> Outcome? {
        var low = low, high = high
        while budget > 0 {
            let a = Swift.min(low.alpha, high.alpha), b = Swift.max(low.alpha, high.alpha)
            let width = b - a
            if width <= 1e-12 * b { break }
            var alpha = Self.cubicMinimizer(low, high, within: a, b)
            if Swift.min(alpha - a, b - alpha) < 0.1 * width { alpha = 0.5 * (a + b) }
            let p = trial(alpha, evaluate)
            if !armijo(p) || p.phi >= low.phi {
                high = p
            } else {
                if curvature(p) { return outcome(p, wolfe: true) }
                if p.slope * (high.alpha - low.alpha) >= 0 { high = low }
                low = p
            }
        }
        return low.alpha > 0 ? outcome(low, wolfe: false) : nil
    }

    /// The minimiser of the cubic interpolating `φ` and `φ'` at `p` and `q` (Nocedal & Wright
    /// eq. 3.59), clamped to `[lo, hi]`; the middle of `[lo, hi]` when the cubic has no minimiser
    /// or a value is not finite.
    static func cubicMinimizer(_ p: Point, _ q: Point, within lo: Double, _ hi: Double) -> Double {
        let d1 = p.slope + q.slope - 3 * (p.phi - q.phi) / (p.alpha - q.alpha)
        let discriminant = d1 * d1 - p.slope * q.slope
        guard discriminant >= 0, discriminant.isFinite else { return 0.5 * (lo + hi) }
        let d2 = (q.alpha >= p.alpha ? 1.0 : -1.0) * discriminant.squareRoot()
        let t = q.alpha - (q.alpha - p.alpha) * (q.slope + d2 - d1) / (q.slope - p.slope + 2 * d2)
        guard t.isFinite else { return 0.5 * (lo + hi) }
        return Swift.min(Swift.max(t, lo), hi)
    }
}

@inline(__always)
func dotProduct(_ a: UnsafePointer<Double>, _ b: UnsafePointer<Double>, _ n: Int) -> Double {
    var acc = 0.0
    for i in 0..<n { acc += a[i] * b[i] }
    return acc
}

@inline(__always)
func maxAbs(_ a: UnsafePointer<Double>, _ n: Int) -> Double {
    var m = 0.0
    for i in 0..<n { m = Swift.max(m, abs(a[i])) }
    return m
}
