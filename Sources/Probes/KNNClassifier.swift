import Foundation
import Optim
import Tensors

/// Weighted k-nearest-neighbour classification on cached features, the monitor of Wu et al. 2018
/// (instance discrimination) used by SimCLR-era code: memory and queries are L2-normalised (a norm
/// below 1e-12 is clamped to it, as torch's `F.normalize`), a query's neighbours are the `k` memory
/// rows of highest cosine similarity `s`, each votes for its label with weight `exp(s/τ)`, and the
/// class with the most weight wins.
///
/// With `.uniform` weighting every neighbour votes 1: the plain majority vote of scikit-learn's
/// `KNeighborsClassifier(metric="cosine")`.
///
/// Ties are broken deterministically: among equally similar memory rows the lower index is the
/// nearer; among classes with equal votes the lower class ranks first (so a prediction is the lowest
/// tied class, and top-5 takes the first five classes of that ranking, as
/// `votes.sort(descending: true)` in the reference monitors does).
///
/// Queries go in batches of `queryBatchSize` rows: one `[B, F] × [F, N]` product (`gemm`) gives the
/// batch's similarities, so memory stays at `B·N` floats whatever the number of queries. `fit`
/// keeps a normalised copy of the memory features. Not thread-safe.
public final class KNNClassifier {
    /// How a neighbour's vote is weighted.
    public enum Weighting: Sendable, Equatable {
        /// `exp(similarity / temperature)` (Wu et al. 2018 use τ = 0.07).
        case exponential(temperature: Float)
        /// 1 for every neighbour.
        case uniform
    }

    /// What one pass over a labelled query set gives: the predictions (for a classification
    /// report) and the top-1 and top-5 accuracy in `[0, 1]`.
    public struct Evaluation: Sendable, Equatable {
        public var predictions: [Int]
        public var top1: Double
        public var top5: Double
    }

    public let k: Int
    public let weighting: Weighting
    public let queryBatchSize: Int

    private var memory = Tensor(zeros: [0, 0])      // normalised memory features: [N, F]
    private var memoryLabels: [Int] = []            // [N]
    /// The number of classes votes are counted over, once fitted.
    public private(set) var classes = 0
    private var normalizedQueries = Workspace()     // [B, F]
    private var similarities = Workspace()          // [B, N]

    public var isFitted: Bool { classes > 0 }

    /// - Parameters:
    ///   - k: neighbours per query (20 in the reference monitors).
    ///   - weighting: `.exponential(temperature: 0.07)` by default.
    ///   - queryBatchSize: queries per similarity product; memory use is `queryBatchSize · N` floats.
    public init(k: Int = 20, weighting: Weighting = .exponential(temperature: 0.07), queryBatchSize: Int = 256) throws {
        guard k >= 1 else { throw OptimError.invalidHyperparameter("k-NN: k must be at least 1, got \(k)") }
        if case .exponential(let temperature) = weighting {
            guard temperature > 0, temperature.isFinite else {
                throw OptimError.invalidHyperparameter("k-NN: temperature must be positive, got \(temperature)")
            }
        }
        guard queryBatchSize >= 1 else {
            throw OptimError.invalidHyperparameter("k-NN: query batch size must be at least 1, got \(queryBatchSize)")
        }
        self.k = k
        self.weighting = weighting
        self.queryBatchSize = queryBatchSize
    }

    /// Stores the memory bank: `features: [N, F]` (copied and normalised) with labels in `0..<classes`.
    public func fit(features: Tensor, labels: [Int], classes: Int) throws {
        precondition(features.rank == 2 && features.shape[0] == labels.count,
                     "KNNClassifier.fit: features \(features.shape) for \(labels.count) labels")
        guard classes >= 1 else { throw ProbeError.invalidData("k-NN needs at least 1 class, got \(classes)") }
        guard features.shape[0] >= k else {
            throw ProbeError.invalidData("k-NN: k = \(k) exceeds the \(features.shape[0]) memory samples")
        }
        try checkLabels(labels, classes: classes, probe: "k-NN")
        try checkFinite(features, probe: "k-NN")
        let normalized = Tensor(zeros: features.shape)
        Self.normalizeRows(features.data, into: normalized.data, rows: features.shape[0], columns: features.shape[1])
        memory = normalized
        memoryLabels = labels
        self.classes = classes
    }

    /// The summed vote weight of each class for each row of `queries: [Q, F]`: `[Q, classes]`.
    public func classScores(queries: Tensor) -> Tensor {
        let votes = vote(queries)
        let scores = Tensor(zeros: [queries.shape[0], classes])
        for i in 0..<votes.count { scores[i] = Float(votes[i]) }
        return scores
    }

    /// The predicted class of each row of `queries: [Q, F]`.
    public func predict(queries: Tensor) -> [Int] {
        let votes = vote(queries), c = classes
        return (0..<queries.shape[0]).map { Self.ranking(votes, row: $0, classes: c, first: 1)[0] }
    }

    /// The predictions and the top-1 and top-5 accuracy of `queries: [Q, F]` against `labels` in
    /// `0..<classes`, in one pass over the memory. With fewer than 5 classes, top-5 is 1.
    public func evaluate(queries: Tensor, labels: [Int]) throws -> Evaluation {
        precondition(queries.rank == 2 && queries.shape[0] == labels.count,
                     "KNNClassifier.evaluate: queries \(queries.shape) for \(labels.count) labels")
        guard !labels.isEmpty else { throw ProbeError.invalidData("k-NN: no queries to evaluate") }
        try checkLabels(labels, classes: classes, probe: "k-NN")
        let votes = vote(queries), c = classes
        var predictions = [Int](repeating: 0, count: labels.count)
        var top1 = 0, top5 = 0
        for (row, y) in labels.enumerated() {
            let ranked = Self.ranking(votes, row: row, classes: c, first: 5)
            predictions[row] = ranked[0]
            if ranked[0] == y { top1 += 1 }
            if ranked.contains(y) { top5 += 1 }
        }
        let count = Double(labels.count)
        return Evaluation(predictions: predictions, top1: Double(top1) / count, top5: Double(top5) / count)
    }

    /// The `first` best classes of one row of `votes: [Q, classes]`, by votes descending and then
    /// class index ascending.
    static func ranking(_ votes: [Double], row: Int, classes: Int, first: Int) -> [Int] {
        let base = row * classes
        let order = (0..<classes).sorted { a, b in
            let va = votes[base + a], vb = votes[base + b]
            return va > vb || (va == vb && a < b)
        }
        return Array(order.prefix(first))
    }

    /// The Double vote totals `[Q, classes]` of `queries: [Q, F]`, batch by batch.
    private func vote(_ queries: Tensor) -> [Double] {
        precondition(isFitted, "KNNClassifier: call fit first")
        precondition(queries.rank == 2 && queries.shape[1] == memory.shape[1],
                     "KNNClassifier: queries \(queries.shape) against memory features \(memory.shape)")
        let q = queries.shape[0], f = memory.shape[1], n = memory.shape[0], c = classes, k = k
        var exponential = false, temperature = 1.0
        if case .exponential(let t) = weighting { exponential = true; temperature = Double(t) }
        var votes = [Double](repeating: 0, count: q * c)
        let batch = Swift.min(queryBatchSize, Swift.max(1, q))
        let qn = normalizedQueries.get([batch, f]), sims = similarities.get([batch, n])
        let qnp = qn.data, sp = sims.data, mp = memory.data
        memoryLabels.withUnsafeBufferPointer { labels in
            votes.withUnsafeMutableBufferPointer { votes in
                let lab = labels.baseAddress!, vp = votes.baseAddress!
                for start in stride(from: 0, to: q, by: batch) {
                    let rows = Swift.min(batch, q - start)
                    Self.normalizeRows(queries.data + start * f, into: qnp, rows: rows, columns: f)
                    // sims: [rows, N] = Q̂ M̂ᵀ
                    gemm(transB: true, m: rows, n: n, k: f, a: qnp, b: mp, c: sp)
                    parallelFor(rows, grain: Swift.max(1, 65536 / Swift.max(1, n))) { range in
                        let topSim = UnsafeMutablePointer<Float>.allocate(capacity: k)
                        let topIndex = UnsafeMutablePointer<Int>.allocate(capacity: k)
                        defer { topSim.deallocate(); topIndex.deallocate() }
                        for r in range {
                            Self.nearest(sp + r * n, n: n, k: k, topSim: topSim, topIndex: topIndex)
                            let out = vp + (start + r) * c
                            for j in 0..<k {
                                let weight = exponential ? Foundation.exp(Double(topSim[j]) / temperature) : 1
                                out[lab[topIndex[j]]] += weight
                            }
                        }
                    }
                }
            }
        }
        return votes
    }

    /// The `k` largest of `s: [n]` into `topSim`/`topIndex`, in decreasing order, the lower index
    /// first among equal values (an insertion into a sorted list of k: n·k at worst, about n when
    /// k ≪ n as a new value rarely beats the current k-th).
    static func nearest(_ s: UnsafePointer<Float>, n: Int, k: Int,
                        topSim: UnsafeMutablePointer<Float>, topIndex: UnsafeMutablePointer<Int>) {
        for j in 0..<k { topSim[j] = -.infinity; topIndex[j] = -1 }
        for i in 0..<n {
            let v = s[i]
            // Strictly greater: an equal value found later stays behind the earlier one.
            guard v > topSim[k - 1] || topIndex[k - 1] < 0 else { continue }
            var pos = k - 1
            while pos > 0 && (v > topSim[pos - 1] || topIndex[pos - 1] < 0) {
                topSim[pos] = topSim[pos - 1]
                topIndex[pos] = topIndex[pos - 1]
                pos -= 1
            }
            topSim[pos] = v
            topIndex[pos] = i
        }
    }

    /// `x / max(‖x‖, 1e-12)` for each of `rows` rows of `columns` floats.
    static func normalizeRows(_ x: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, rows: Int, columns: Int) {
        parallelFor(rows, grain: Swift.max(1, 65536 / Swift.max(1, columns))) { range in
            for r in range {
                let xr = x + r * columns, o = out + r * columns
                var sum = 0.0
                for j in 0..<columns { sum += Double(xr[j]) * Double(xr[j]) }
                let scale = Float(1 / Swift.max(sum.squareRoot(), 1e-12))
                for j in 0..<columns { o[j] = xr[j] * scale }
            }
        }
    }
}
