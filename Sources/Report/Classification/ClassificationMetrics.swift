/// Accuracy measures that need more than the predicted labels.
public enum ClassificationMetrics {
    /// Fraction of samples whose true class is among the `k` highest of its row of `scores`
    /// (`[N, classCount]`, row-major: logits or probabilities), as scikit-learn's
    /// `top_k_accuracy_score(y_true, scores, k=k, labels=range(classCount))`. Ties rank the higher
    /// class index first, as scikit-learn's reversed stable sort does.
    public static func topKAccuracy(scores: [Float], classCount: Int, trueLabels: [Int], k: Int = 5) -> Double {
        precondition(classCount > 0 && k > 0, "topKAccuracy: classCount \(classCount) and k \(k) must be positive")
        precondition(scores.count == trueLabels.count * classCount,
                     "topKAccuracy: scores hold \(scores.count) values, not \(trueLabels.count) x \(classCount)")
        guard !trueLabels.isEmpty else { return 0 }
        var hits = 0
        scores.withUnsafeBufferPointer { s in
            for (row, label) in trueLabels.enumerated() {
                precondition((0..<classCount).contains(label), "topKAccuracy: label \(label) outside 0..<\(classCount)")
                let base = row * classCount
                let target = s[base + label]
                // The rank of the true class: classes scoring higher, and equal ones with a higher index.
                var ahead = 0
                for c in 0..<classCount where s[base + c] > target || (s[base + c] == target && c > label) {
                    ahead += 1
                }
                if ahead < k { hits += 1 }
            }
        }
        return Double(hits) / Double(trueLabels.count)
    }

    /// The predicted class of each row of `scores` (`[N, classCount]`): the first index of the
    /// maximum, as `numpy.argmax`.
    public static func argmax(scores: [Float], classCount: Int) -> [Int] {
        precondition(classCount > 0 && scores.count % classCount == 0,
                     "argmax: \(scores.count) scores are not rows of \(classCount)")
        return (0..<(scores.count / classCount)).map { row in
            let base = row * classCount
            var best = 0
            for c in 1..<classCount where scores[base + c] > scores[base + best] { best = c }
            return best
        }
    }
}
