import Foundation
@testable import Probes
import Tensors
import TestSupport
import XCTest

/// L-BFGS, logistic regression and k-NN: known minima, finite differences, and the fixtures of
/// scripts/probes_reference.py (scikit-learn and a NumPy transcription of the k-NN vote).
final class ProbeTests: XCTestCase {
    // MARK: L-BFGS

    func testLBFGSFindsTheRosenbrockMinimum() throws {
        let solver = try LBFGS(gradientTolerance: 1e-9, lossChangeTolerance: 0)
        var x = [-1.2, 1.0]
        let report = solver.minimize(&x) { p, g in
            let a = p[0], b = p[1]
            g[0] = -2 * (1 - a) - 400 * a * (b - a * a)
            g[1] = 200 * (b - a * a)
            return (1 - a) * (1 - a) + 100 * (b - a * a) * (b - a * a)
        }
        XCTAssertEqual(report.stopReason, .gradientTolerance, "\(report)")
        XCTAssertLessThan(report.iterations, 60, "\(report)")
        XCTAssertEqual(x[0], 1, accuracy: 1e-7)
        XCTAssertEqual(x[1], 1, accuracy: 1e-7)
        XCTAssertLessThan(report.loss, 1e-14)
    }

    /// A 40-dimensional quadratic `½ xᵀAx − bᵀx` with the tridiagonal A = tridiag(−1, 2.01, −1)
    /// (condition number ~ 400, smallest eigenvalue ~ 0.016), whose minimiser is the chosen `x*`:
    /// a gradient below 1e-7 puts x within 1e-7 / 0.016 of it.
    func testLBFGSSolvesAnIllConditionedQuadratic() throws {
        let n = 40
        let target = (0..<n).map { sin(Double($0)) }
        func apply(_ v: UnsafeBufferPointer<Double>, _ out: UnsafeMutableBufferPointer<Double>) {
            for i in 0..<n {
                out[i] = 2.01 * v[i] - (i > 0 ? v[i - 1] : 0) - (i < n - 1 ? v[i + 1] : 0)
            }
        }
        var b = [Double](repeating: 0, count: n)
        target.withUnsafeBufferPointer { t in b.withUnsafeMutableBufferPointer { apply(t, $0) } }
        let solver = try LBFGS(history: 5, gradientTolerance: 1e-7, lossChangeTolerance: 0)
        var x = [Double](repeating: 0, count: n)
        let report = solver.minimize(&x) { p, g in
            apply(p, g)
            var f = 0.0
            for i in 0..<n {
                f += 0.5 * p[i] * g[i] - b[i] * p[i]
                g[i] -= b[i]
            }
            return f
        }
        XCTAssertEqual(report.stopReason, .gradientTolerance, "\(report)")
        for i in 0..<n { XCTAssertEqual(x[i], target[i], accuracy: 1e-5, "x[\(i)]") }
        XCTAssertLessThan(report.evaluations, 2 * report.iterations + 10, "the line search should mostly accept α = 1")
    }

    func testLBFGSStopsAtTheIterationLimitAndOnLossChange() throws {
        let rosenbrock: LBFGS.Objective = { p, g in
            let a = p[0], b = p[1]
            g[0] = -2 * (1 - a) - 400 * a * (b - a * a)
            g[1] = 200 * (b - a * a)
            return (1 - a) * (1 - a) + 100 * (b - a * a) * (b - a * a)
        }
        var x = [-1.2, 1.0]
        let limited = try LBFGS(maxIterations: 3).minimize(&x, rosenbrock)
        XCTAssertEqual(limited.stopReason, .maxIterations)
        XCTAssertEqual(limited.iterations, 3)
        XCTAssertLessThan(limited.loss, 24.2, "each accepted step decreases the loss")

        x = [-1.2, 1.0]
        let loose = try LBFGS(gradientTolerance: 0, lossChangeTolerance: 1e-3).minimize(&x, rosenbrock)
        XCTAssertEqual(loose.stopReason, .lossChange)
        XCTAssertTrue(loose.converged)

        x = [Double.nan, 0]
        XCTAssertEqual(try LBFGS().minimize(&x, rosenbrock).stopReason, .nonFiniteLoss)
    }

    /// The accepted step satisfies both strong Wolfe conditions, whether the first trial is far too
    /// long (a narrow valley), far too short (a wide one) or lands in a region of +∞.
    func testLineSearchReturnsStrongWolfeSteps() {
        let cases: [(name: String, initial: Double, phi: (Double) -> (Double, Double))] = [
            ("narrow", 1, { a in (100 * (a - 0.01) * (a - 0.01), 200 * (a - 0.01)) }),
            ("wide", 1, { a in ((a - 50) * (a - 50) / 100, (a - 50) / 50) }),
            ("quartic", 1, { a in (pow(a - 2, 4) - 4 * a, 4 * pow(a - 2, 3) - 4) }),
            ("wall", 4, { a in a > 2 ? (.infinity, .nan) : ((a - 1.5) * (a - 1.5), 2 * (a - 1.5)) }),
        ]
        for c in cases {
            let (phi0, slope0) = c.phi(0)
            var search = LineSearch(phi0: phi0, slope0: slope0, budget: 25)
            var evaluated: [Double] = []
            let outcome = search.run(initialStep: c.initial) { a in
                evaluated.append(a)
                return c.phi(a)
            }
            guard let outcome else { XCTFail("\(c.name): no step"); continue }
            let (phi, slope) = c.phi(outcome.alpha)
            XCTAssertTrue(outcome.satisfiesWolfe, c.name)
            XCTAssertLessThanOrEqual(phi, phi0 + LBFGS.sufficientDecrease * outcome.alpha * slope0, c.name)
            XCTAssertLessThanOrEqual(abs(slope), LBFGS.curvature * abs(slope0), c.name)
            XCTAssertEqual(outcome.isLastEvaluated, evaluated.last == outcome.alpha, c.name)
        }
    }

    func testLBFGSRejectsBadSettings() {
        XCTAssertThrowsError(try LBFGS(history: 0))
        XCTAssertThrowsError(try LBFGS(maxIterations: -1))
        XCTAssertThrowsError(try LBFGS(gradientTolerance: -1))
        XCTAssertThrowsError(try LBFGS(maxLineSearchEvaluations: 0))
    }

    // MARK: Logistic regression

    func testSoftmaxRegressionGradientMatchesFiniteDifferences() {
        let x = randomTensor([7, 3], seed: 31, scale: 1.5)
        let labels = [0, 2, 1, 3, 3, 0, 2]
        let problem = SoftmaxRegressionObjective(x: x, labels: labels, classes: 4, l2: 0.3)
        var theta = randomTensor([problem.parameterCount], seed: 32, scale: 0.5).array.map(Double.init)
        var analytic = [Double](repeating: 0, count: problem.parameterCount)
        var scratch = analytic
        func loss(_ t: [Double]) -> Double {
            t.withUnsafeBufferPointer { t in scratch.withUnsafeMutableBufferPointer { problem.evaluate(t, $0) } }
        }
        let f = theta.withUnsafeBufferPointer { t in analytic.withUnsafeMutableBufferPointer { problem.evaluate(t, $0) } }
        XCTAssertEqual(f, loss(theta))
        var numeric = [Float](repeating: 0, count: theta.count)
        for i in 0..<theta.count {
            let saved = theta[i], h = 1e-3
            theta[i] = saved + h
            let up = loss(theta)
            theta[i] = saved - h
            let down = loss(theta)
            theta[i] = saved
            numeric[i] = Float((up - down) / (2 * h))
        }
        assertGradientMatches(analytic.map { Float($0) }, numeric, tolerance: 2e-3, floor: 1e-3)
    }

    func testLogisticRegressionMatchesScikitLearn() throws {
        let fixture = try probeFixture("probe_logistic")
        let cases = try XCTUnwrap(fixture["cases"] as? [[String: Any]])
        XCTAssertEqual(cases.count, 3, "multinomial, binary (scikit-learn at 2 C), standardised")
        for c in cases {
            let name = c["name"] as? String ?? "?"
            let train = try matrix(c["train_features"]), test = try matrix(c["test_features"])
            let labels = try ints(c["train_labels"]), classes = try XCTUnwrap(int(c["classes"]))
            let model = try LogisticRegression(regularization: .inverseStrength(try XCTUnwrap(double(c["C"]))),
                                               standardize: bool(c["standardize"], default: false))
            let report = try model.fit(features: train, labels: labels, classes: classes)
            XCTAssertTrue(report.converged, "\(name): \(report)")

            let expected = try XCTUnwrap(double(c["objective"]))
            XCTAssertEqual(model.objective, expected, accuracy: 1e-4 * expected, "\(name): objective")
            XCTAssertGreaterThanOrEqual(model.objective, expected * (1 - 1e-7), "\(name): below scikit-learn's minimum")

            let trainAgreement = agreement(model.predict(features: train), try ints(c["train_predictions"]))
            let testAgreement = agreement(model.predict(features: test), try ints(c["test_predictions"]))
            XCTAssertGreaterThanOrEqual(trainAgreement, 0.99, "\(name): train predictions")
            XCTAssertGreaterThanOrEqual(testAgreement, 0.99, "\(name): test predictions")
            assertClose(model.predictProbabilities(features: test).array, floats(c["test_probabilities"]),
                        rtol: 0, atol: 2e-3, "\(name): probabilities")
            XCTAssertEqual(try model.score(features: train, labels: labels),
                           try XCTUnwrap(double(c["train_accuracy"])), accuracy: 2.5 / Double(labels.count), name)
            XCTAssertEqual(model.weight.shape, [classes, train.shape[1]])
            XCTAssertEqual(model.bias.shape, [classes])
        }
    }

    /// `.weightDecay(1/(C·N))` is the same problem as `.inverseStrength(C)`.
    func testWeightDecayIsInverseStrengthOverSamples() throws {
        let fixture = try probeFixture("probe_logistic")
        let c = try XCTUnwrap((fixture["cases"] as? [[String: Any]])?.first)
        let train = try matrix(c["train_features"]), labels = try ints(c["train_labels"])
        let strength = try XCTUnwrap(double(c["C"]))
        let byC = try LogisticRegression(regularization: .inverseStrength(strength))
        let byDecay = try LogisticRegression(regularization: .weightDecay(1 / (strength * Double(labels.count))))
        try byC.fit(features: train, labels: labels, classes: 4)
        try byDecay.fit(features: train, labels: labels, classes: 4)
        XCTAssertEqual(byC.objective, byDecay.objective, accuracy: 1e-12)
        assertClose(byC.weight.array, byDecay.weight.array, rtol: 1e-5, atol: 1e-6)
    }

    /// With standardisation the model is invariant to a per-feature affine change of the inputs, which
    /// only holds if the mean and std are folded into `weight` and `bias` correctly.
    func testStandardizationIsFoldedIntoTheExportedLayer() throws {
        let x = randomTensor([60, 4], seed: 41)
        let labels = (0..<60).map { row in x[row * 4] + 0.5 * x[row * 4 + 1] > 0 ? (x[row * 4 + 2] > 0 ? 2 : 1) : 0 }
        let scale: [Float] = [0.01, 3, 50, 1], offset: [Float] = [5, -1, 200, 0]
        let moved = Tensor(zeros: [60, 4])
        for i in 0..<240 { moved[i] = x[i] * scale[i % 4] + offset[i % 4] }

        let plain = try LogisticRegression(regularization: .inverseStrength(1), standardize: true)
        let shifted = try LogisticRegression(regularization: .inverseStrength(1), standardize: true)
        try plain.fit(features: x, labels: labels, classes: 3)
        try shifted.fit(features: moved, labels: labels, classes: 3)
        XCTAssertEqual(plain.objective, shifted.objective, accuracy: 1e-5 * plain.objective)
        assertClose(shifted.predictProbabilities(features: moved).array, plain.predictProbabilities(features: x).array,
                    rtol: 0, atol: 1e-3)
        let mean = try XCTUnwrap(shifted.featureMean), std = try XCTUnwrap(shifted.featureStd)
        for j in 0..<4 {
            XCTAssertEqual(mean[j], plain.featureMean![j] * scale[j] + offset[j], accuracy: 1e-3 * (1 + abs(offset[j])))
            XCTAssertEqual(std[j], plain.featureStd![j] * scale[j], accuracy: 1e-4 * scale[j])
            for k in 0..<3 {
                XCTAssertEqual(shifted.weight[k * 4 + j], plain.weight[k * 4 + j] / scale[j],
                               accuracy: 2e-3 * abs(plain.weight[k * 4 + j] / scale[j]) + 1e-5)
            }
        }
    }

    func testLogisticRegressionRejectsBadInput() throws {
        XCTAssertThrowsError(try LogisticRegression(regularization: .inverseStrength(0)))
        XCTAssertThrowsError(try LogisticRegression(regularization: .weightDecay(-1)))
        let model = try LogisticRegression()
        let x = randomTensor([4, 2], seed: 5)
        XCTAssertThrowsError(try model.fit(features: x, labels: [0, 1, 2, 1], classes: 2)) { error in
            XCTAssertEqual(error as? ProbeError,
                           .invalidData("logistic regression: label 2 of sample 2 is outside 0..<2"))
        }
        x[3] = .nan
        XCTAssertThrowsError(try model.fit(features: x, labels: [0, 1, 0, 1], classes: 2))
        XCTAssertFalse(model.isFitted)
    }

    // MARK: k-NN

    func testKNNIsPerfectOnWellSeparatedClasses() throws {
        let classes = 5, f = 16
        func sample(_ count: Int, seed: UInt64) -> (Tensor, [Int]) {
            let noise = randomTensor([count, f], seed: seed, scale: 0.1)
            let labels = (0..<count).map { $0 % classes }
            for (row, y) in labels.enumerated() { noise[row * f + 3 * y] += 5 }
            return (noise, labels)
        }
        let (memory, memoryLabels) = sample(100, seed: 51)
        let (queries, queryLabels) = sample(45, seed: 52)
        for weighting in [KNNClassifier.Weighting.exponential(temperature: 0.07), .uniform] {
            let knn = try KNNClassifier(k: 20, weighting: weighting)
            try knn.fit(features: memory, labels: memoryLabels, classes: classes)
            XCTAssertEqual(try knn.evaluate(queries: queries, labels: queryLabels),
                           .init(predictions: queryLabels, top1: 1, top5: 1))
            XCTAssertEqual(knn.predict(queries: queries), queryLabels)
        }
    }

    func testKNNMatchesTheReferenceVote() throws {
        let fixture = try probeFixture("probe_knn")
        let memory = try matrix(fixture["memory"]), queries = try matrix(fixture["queries"])
        let memoryLabels = try ints(fixture["memory_labels"]), queryLabels = try ints(fixture["query_labels"])
        let classes = try XCTUnwrap(int(fixture["classes"]))
        let cases = try XCTUnwrap(fixture["cases"] as? [[String: Any]])
        XCTAssertEqual(cases.count, 4)
        for c in cases {
            let name = c["name"] as? String ?? "?"
            let k = try XCTUnwrap(int(c["k"]))
            let weighting: KNNClassifier.Weighting = double(c["temperature"]).map { .exponential(temperature: Float($0)) } ?? .uniform
            // A batch size that does not divide the 80 queries exercises the last, partial batch.
            let knn = try KNNClassifier(k: k, weighting: weighting, queryBatchSize: 23)
            try knn.fit(features: memory, labels: memoryLabels, classes: classes)
            XCTAssertEqual(knn.predict(queries: queries), try ints(c["predictions"]), name)
            assertClose(knn.classScores(queries: queries).array, floats(c["votes"]), rtol: 1e-4, atol: 1e-6, name)
            let accuracy = try knn.evaluate(queries: queries, labels: queryLabels)
            XCTAssertEqual(accuracy.predictions, try ints(c["predictions"]), name)
            XCTAssertEqual(accuracy.top1, try XCTUnwrap(double(c["top1"])), accuracy: 1e-9, name)
            XCTAssertEqual(accuracy.top5, try XCTUnwrap(double(c["top5"])), accuracy: 1e-9, name)
            if weighting == .uniform {
                XCTAssertEqual(accuracy.top1, try XCTUnwrap(double(c["sklearn_accuracy"])), accuracy: 1e-9, name)
                XCTAssertEqual(knn.predict(queries: queries), try ints(c["sklearn_predictions"]), name)
            }
        }
    }

    func testKNNBatchSizeDoesNotChangeTheVotes() throws {
        let memory = randomTensor([50, 6], seed: 61), queries = randomTensor([17, 6], seed: 62)
        let labels = (0..<50).map { $0 % 3 }
        var scores: [[Float]] = []
        for batch in [1, 5, 17, 64] {
            let knn = try KNNClassifier(k: 7, queryBatchSize: batch)
            try knn.fit(features: memory, labels: labels, classes: 3)
            scores.append(knn.classScores(queries: queries).array)
        }
        for s in scores.dropFirst() { assertClose(s, scores[0], rtol: 1e-6, atol: 0) }
    }

    func testKNNBreaksTiesTowardsLowerIndices() {
        let sims: [Float] = [0.5, 0.9, 0.5, 0.9, 0.1, 0.5]
        let topSim = UnsafeMutablePointer<Float>.allocate(capacity: 4)
        let topIndex = UnsafeMutablePointer<Int>.allocate(capacity: 4)
        defer { topSim.deallocate(); topIndex.deallocate() }
        KNNClassifier.nearest(sims, n: sims.count, k: 4, topSim: topSim, topIndex: topIndex)
        XCTAssertEqual(Array(UnsafeBufferPointer(start: topIndex, count: 4)), [1, 3, 0, 2])
        XCTAssertEqual(KNNClassifier.ranking([0, 2, 1, 2, 0], row: 0, classes: 5, first: 5), [1, 3, 2, 0, 4])
    }

    func testKNNRejectsBadSettingsAndData() throws {
        XCTAssertThrowsError(try KNNClassifier(k: 0))
        XCTAssertThrowsError(try KNNClassifier(weighting: .exponential(temperature: 0)))
        XCTAssertThrowsError(try KNNClassifier(queryBatchSize: 0))
        let knn = try KNNClassifier(k: 5)
        XCTAssertThrowsError(try knn.fit(features: randomTensor([4, 3], seed: 1), labels: [0, 1, 0, 1], classes: 2))
        XCTAssertThrowsError(try knn.fit(features: randomTensor([6, 3], seed: 1), labels: [0, 1, 0, 1, 0, -1], classes: 2))
        XCTAssertFalse(knn.isFitted)
    }

    // MARK: Helpers

    private func matrix(_ any: Any?) throws -> Tensor {
        let rows = try XCTUnwrap(any as? [Any])
        let values = floats(rows)
        return Tensor(shape: [rows.count, values.count / max(1, rows.count)], values: values)
    }

    private func ints(_ any: Any?) throws -> [Int] {
        try XCTUnwrap(any as? [NSNumber]).map(\.intValue)
    }

    private func agreement(_ a: [Int], _ b: [Int]) -> Double {
        XCTAssertEqual(a.count, b.count)
        return Double(zip(a, b).filter { $0 == $1 }.count) / Double(max(1, a.count))
    }
}
