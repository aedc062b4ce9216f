import Tensors
import XCTest

/// Σ y·r in Double: the scalar loss every gradient check differentiates (r is fixed and random,
/// so dL/dy = r exercises every output).
public func weightedSum(_ y: Tensor, _ r: Tensor) -> Double {
    precondition(y.count == r.count, "weightedSum: \(y.shape) vs \(r.shape)")
    var s = 0.0
    for i in 0..<y.count { s += Double(y[i]) * Double(r[i]) }
    return s
}

/// Checks `backward` against central finite differences of L = Σ forward(x)·r, for the input and
/// every parameter in `store`: all coordinates, or `samples` per tensor (spread by a seeded stream).
///
/// A coordinate agrees when `|a - n| / max(|a| + |n|, floor) < tolerance` (TestSupport's rule).
///
/// With `retryEps`, a coordinate that disagrees at `eps` is tried again at those smaller step sizes
/// in turn, and passes if any agrees: float32 rounding favours a large step, while a ReLU or
/// max-pool kink (or a BatchNorm with a tiny batch variance) close to the point favours a small one.
/// `allowedFailures` tolerates that many coordinates disagreeing at every step size, for networks
/// in which some perturbations cross kinks whatever the step; layer tests pass 0 and use one step.
public func checkGradients(store: ParameterStore, input x: Tensor, checkInput: Bool = true,
                    eps: Float = 1e-2, retryEps: [Float] = [], tolerance: Float = 2e-2, floor: Float = 1e-2,
                    samples: Int? = nil, allowedFailures: Int = 0, seed: UInt64 = 99,
                    forward: (Tensor) -> Tensor, backward: (Tensor) -> Tensor,
                    _ message: String = "", file: StaticString = #filePath, line: UInt = #line) {
    let y = forward(x)
    let r = randomTensor(y.shape, seed: seed)
    store.zeroGrad()
    let dx = backward(r).array
    let grads = store.parameters.map { Array(UnsafeBufferPointer(start: $0.grad, count: $0.count)) }
    func loss() -> Double { weightedSum(forward(x), r) }

    var checked = 0
    var failures: [String] = []
    func compare(_ label: String, _ pointer: UnsafeMutablePointer<Float>, _ analytic: [Float]) {
        var indices = Array(0..<analytic.count)
        if let samples, samples < analytic.count {
            var rng = RandomStream(seed: seed, index: checked)
            indices = Array(rng.permutation(analytic.count).prefix(samples)).sorted()
        }
        func agrees(_ a: Float, _ n: Float) -> Bool { abs(a - n) / max(abs(a) + abs(n), floor) < tolerance }
        for i in indices {
            let a = analytic[i]
            var numerics = [numericGradient(at: pointer + i, count: 1, eps: eps, loss)[0]]
            for smaller in retryEps where !agrees(a, numerics.last!) {
                numerics.append(numericGradient(at: pointer + i, count: 1, eps: smaller, loss)[0])
            }
            checked += 1
            if !agrees(a, numerics.last!) {
                failures.append("\(label)[\(i)]: analytic \(a) vs numeric \(numerics.map { "\($0)" }.joined(separator: ", "))")
            }
        }
    }
    if checkInput { compare("input", x.data, dx) }
    for (p, g) in zip(store.parameters, grads) { compare(p.name, p.value, g) }
    if failures.count > allowedFailures {
        XCTFail("\(message): \(failures.count) of \(checked) coordinates disagree at every step size (allowed "
                + "\(allowedFailures)): " + failures.prefix(8).joined(separator: "; "), file: file, line: line)
    }
}

/// A finalised store and a layer built into it.
public func build<L>(seed: UInt64 = 1, _ make: (ParameterStore) -> L) -> (L, ParameterStore) {
    let store = ParameterStore()
    let layer = make(store)
    store.finalize(seed: seed)
    return (layer, store)
}

/// Sets every parameter of `store` to a random value of roughly unit scale (BatchNorm weights
/// around 1, biases around 0), so checks do not depend on initialisations that are zero or one.
public func randomizeParameters(_ store: ParameterStore, seed: UInt64) {
    for (k, p) in store.parameters.enumerated() {
        var rng = RandomStream(seed: seed, index: k)
        for i in 0..<p.count {
            let v = rng.normal()
            switch p.role {
            case .normWeight: p.value[i] = 1 + 0.3 * v
            case .bias, .normBias: p.value[i] = 0.3 * v
            case .weight: p.value[i] = v / Float(p.count / p.shape[0]).squareRoot()
            }
        }
    }
}
