import Foundation

/// The lines of `metrics.jsonl`, sorted by what they describe: optimisation steps (they have a
/// `step`: pretraining losses, k-NN monitor results), epochs (an `epoch` and no `step`: fine-tuning)
/// and results (neither: a final test accuracy). Lines that do not parse, as the last line of a
/// killed run may not, are counted and skipped.
struct MetricsLog {
    /// One line's numeric fields (non-numeric ones dropped; NaN for `null`).
    typealias Record = [String: Double]

    private(set) var steps: [Record] = []
    private(set) var epochs: [Record] = []
    /// Fields of result lines, in file order, each shown as text.
    private(set) var results: [(key: String, value: String)] = []
    private(set) var skippedLines = 0

    init(text: String) {
        for line in text.split(whereSeparator: \.isNewline) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { continue }
            guard let parsed = try? JSONSerialization.jsonObject(with: Data(trimmed.utf8)),
                  let object = parsed as? [String: Any] else {
                skippedLines += 1
                continue
            }
            var record = Record()
            for (key, value) in object {
                if let v = JSONDisplay.double(value) { record[key] = v }
            }
            if record["step"] != nil {
                steps.append(record)
            } else if record["epoch"] != nil {
                epochs.append(record)
            } else {
                results += object.keys.sorted().map { ($0, JSONDisplay.result(object[$0]!)) }
            }
        }
    }

    /// `key` against `x` over the records that have both. When a resumed run logged a step twice,
    /// the later value wins; points come back sorted by x.
    static func series(_ key: String, over x: String, in records: [Record]) -> (x: [Double], y: [Double]) {
        var latest: [Double: Double] = [:]
        for record in records {
            guard let xv = record[x], xv.isFinite, let yv = record[key] else { continue }
            latest[xv] = yv
        }
        let xs = latest.keys.sorted()
        return (xs, xs.map { latest[$0]! })
    }

    /// `count` of the points, evenly spaced by index, the first and the last included.
    static func thinned(_ points: (x: [Double], y: [Double]), to count: Int) -> (x: [Double], y: [Double]) {
        precondition(count >= 2, "MetricsLog.thinned: keep at least 2 points, not \(count)")
        let n = points.x.count
        guard n > count else { return points }
        let kept = (0..<count).map { $0 * (n - 1) / (count - 1) }
        return (kept.map { points.x[$0] }, kept.map { points.y[$0] })
    }

    /// An exponential moving average with pandas' `ewm(span:, adjust=True)` weighting: each point
    /// is the weighted mean of those before it with weights `(1 - alpha)^age`, `alpha = 2 / (span + 1)`,
    /// so the first points are not pulled towards zero. Non-finite values are skipped (their
    /// position stays NaN) rather than poisoning the rest of the curve.
    static func smoothed(_ y: [Double], span: Double) -> [Double] {
        precondition(span >= 1, "MetricsLog.smoothed: span \(span) below 1")
        let decay = 1 - 2 / (span + 1)
        var weightedSum = 0.0, totalWeight = 0.0
        return y.map { v in
            guard v.isFinite else { return .nan }
            weightedSum = weightedSum * decay + v
            totalWeight = totalWeight * decay + 1
            return weightedSum / totalWeight
        }
    }
}
