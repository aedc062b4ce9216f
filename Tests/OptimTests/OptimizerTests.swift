import Foundation
import Optim
import Tensors
import TestSupport
import XCTest

final class OptimizerTests: XCTestCase {
    /// A store holding the fixture's parameters (a weight, a bias, BatchNorm weight and bias, and a
    /// zero-initialised weight) at their initial values.
    private func makeStore(_ fixture: [String: Any]) throws -> ParameterStore {
        let store = ParameterStore()
        let specs = try XCTUnwrap(fixture["parameters"] as? [[String: Any]])
        var parameters: [(Parameter, [Float])] = []
        for spec in specs {
            let shape = try XCTUnwrap(spec["shape"] as? [NSNumber]).map(\.intValue)
            let role = try XCTUnwrap(ParameterRole(rawValue: spec["role"] as? String ?? ""))
            let p = store.parameter(try XCTUnwrap(spec["name"] as? String), shape: shape, role: role, initializer: .zeros)
            parameters.append((p, floats(spec["value"])))
        }
        store.finalize(seed: 0)
        for (p, values) in parameters { p.value.update(from: values, count: p.count) }
        return store
    }

    private func makeOptimizer(_ c: [String: Any], _ store: ParameterStore) throws -> Optimizer {
        let o = c["options"] as? [String: Any] ?? [:]
        switch c["optimizer"] as? String {
        case "sgd":
            return try SGD(store: store, momentum: float(o["momentum"], default: 0),
                           dampening: float(o["dampening"], default: 0),
                           nesterov: bool(o["nesterov"], default: false),
                           weightDecay: float(o["weight_decay"], default: 0),
                           decayAll: bool(o["decay_all"], default: true))
        case "adam" where bool(o["decoupled"], default: false):
            return try AdamW(store: store, beta1: float(o["beta1"], default: 0.9), beta2: float(o["beta2"], default: 0.999),
                             weightDecay: float(o["weight_decay"], default: 0.01),
                             decayAll: bool(o["decay_all"], default: true))
        case "adam":
            return try Adam(store: store, beta1: float(o["beta1"], default: 0.9), beta2: float(o["beta2"], default: 0.999),
                            weightDecay: float(o["weight_decay"], default: 0),
                            decayAll: bool(o["decay_all"], default: true))
        case "lars":
            return try LARS(store: store, momentum: float(o["momentum"], default: 0.9),
                            weightDecay: float(o["weight_decay"], default: 1e-6),
                            trustCoefficient: float(o["eta"], default: 0.001),
                            nesterov: bool(o["nesterov"], default: false),
                            decayAll: bool(o["decay_all"], default: false))
        default:
            throw NSError(domain: "unknown optimizer \(c["optimizer"] ?? "nil")", code: 1)
        }
    }

    private func setGradients(_ store: ParameterStore, _ grads: [String: Any]) {
        for p in store.parameters { p.grad.update(from: floats(grads[p.name]), count: p.count) }
    }

    func testEveryOptimizerMatchesReferenceOverThreeSteps() throws {
        let fixture = try optimFixture("optimizers")
        let grads = try XCTUnwrap(fixture["grads"] as? [[String: Any]])
        let cases = try XCTUnwrap(fixture["cases"] as? [[String: Any]])
        XCTAssertEqual(cases.count, 14)
        for c in cases {
            let name = c["name"] as? String ?? "?"
            let store = try makeStore(fixture)
            let initial = store.parameters.map { Array(UnsafeBufferPointer(start: $0.value, count: $0.count)) }
            let optimizer = try makeOptimizer(c, store)
            let lrs = floats(c["lrs"])
            let after = try XCTUnwrap(c["after"] as? [[String: Any]])
            for (t, lr) in lrs.enumerated() {
                setGradients(store, grads[t])
                optimizer.step(lr: lr)
                XCTAssertEqual(optimizer.stepCount, t + 1)
                for (p, w0) in zip(store.parameters, initial) {
                    let w = Array(UnsafeBufferPointer(start: p.value, count: p.count))
                    let expected = floats(after[t][p.name])
                    assertClose(w, expected, rtol: 1e-5, atol: 1e-6, "\(name) step \(t + 1) \(p.name)")
                    // The updates themselves, which can be small next to the weights (LARS); a
                    // float weight resolves them to a couple of its ulps at best.
                    let resolution = 2 * (w0.map(abs).max() ?? 0) * Float.ulpOfOne
                    assertClose(zip(w, w0).map { $0 - $1 }, zip(expected, w0).map { $0 - $1 },
                                rtol: 1e-4, atol: Swift.max(resolution, 1e-8), "\(name) step \(t + 1) \(p.name) update")
                }
            }
            let expectedState = try XCTUnwrap(c["state"] as? [String: Any])
            XCTAssertEqual(Set(optimizer.state.map(\.name)), Set(expectedState.keys), name)
            for (stateName, tensor) in optimizer.state {
                assertClose(tensor.array, floats(expectedState[stateName]), rtol: 1e-4, atol: 1e-8, "\(name) \(stateName)")
            }
        }
    }

    func testStepLeavesGradientsUntouched() throws {
        let fixture = try optimFixture("optimizers")
        let grads = try XCTUnwrap(fixture["grads"] as? [[String: Any]])
        let store = try makeStore(fixture)
        for optimizer in [try SGD(store: store, momentum: 0.9) as Optimizer, try Adam(store: store),
                          try AdamW(store: store), try LARS(store: store)] {
            setGradients(store, grads[0])
            let before = Array(UnsafeBufferPointer(start: store.grads, count: store.count))
            optimizer.step(lr: 0.1)
            XCTAssertEqual(Array(UnsafeBufferPointer(start: store.grads, count: store.count)), before)
        }
    }

    /// Saving the state and step count after one step and restoring them into fresh objects continues
    /// the same trajectory: what a checkpoint relies on.
    func testRestoredStateContinuesTheSameRun() throws {
        let fixture = try optimFixture("optimizers")
        let grads = try XCTUnwrap(fixture["grads"] as? [[String: Any]])
        let cases = try XCTUnwrap(fixture["cases"] as? [[String: Any]])
        for c in cases {
            let name = c["name"] as? String ?? "?"
            let lrs = floats(c["lrs"])
            let straight = try makeStore(fixture)
            let straightOptimizer = try makeOptimizer(c, straight)
            for t in 0..<3 {
                setGradients(straight, grads[t])
                straightOptimizer.step(lr: lrs[t])
            }
            let first = try makeStore(fixture)
            let firstOptimizer = try makeOptimizer(c, first)
            setGradients(first, grads[0])
            firstOptimizer.step(lr: lrs[0])

            let resumed = try makeStore(fixture)
            resumed.values.update(from: first.values, count: first.count)
            let resumedOptimizer = try makeOptimizer(c, resumed)
            resumedOptimizer.stepCount = firstOptimizer.stepCount
            for ((savedName, saved), (restoredName, restored)) in zip(firstOptimizer.state, resumedOptimizer.state) {
                XCTAssertEqual(savedName, restoredName)
                restored.copy(from: saved)
            }
            for t in 1..<3 {
                setGradients(resumed, grads[t])
                resumedOptimizer.step(lr: lrs[t])
            }
            XCTAssertEqual(Array(UnsafeBufferPointer(start: resumed.values, count: resumed.count)),
                           Array(UnsafeBufferPointer(start: straight.values, count: straight.count)), name)
        }
    }

    func testRejectsInvalidHyperparameters() {
        let store = ParameterStore()
        _ = store.parameter("w", shape: [2], role: .weight, initializer: .zeros)
        store.finalize(seed: 0)
        XCTAssertThrowsError(try SGD(store: store, momentum: 0, nesterov: true))
        XCTAssertThrowsError(try SGD(store: store, momentum: 0.9, dampening: 0.1, nesterov: true))
        XCTAssertThrowsError(try SGD(store: store, weightDecay: -1))
        XCTAssertThrowsError(try Adam(store: store, beta1: 1))
        XCTAssertThrowsError(try AdamW(store: store, weightDecay: -0.1))
        XCTAssertThrowsError(try LARS(store: store, trustCoefficient: 0))
        XCTAssertThrowsError(try LARS(store: store, momentum: 1.2))
    }
}
