import Formats
import Foundation
import Report

/// The embeddings of a run (`embeddings.npy`, `[N, F]` float32, with optional
/// `embeddings.labels.txt` and `embeddings.classes.txt`) projected on their first two principal
/// components, one point per sample coloured by class.
struct EmbeddingProjection {
    /// Plots stay readable and PCA stays fast with at most this many points.
    static let maximumPoints = 2000

    let scatter: ScatterPlot
    /// Samples in the file (the plot may show fewer).
    let total: Int
    let notes: [String]

    /// Reads the files in `directory`. Samples are subsampled evenly by index (every k-th row, so a
    /// file sorted by class keeps its proportions); PCA is fitted to the points shown.
    init(directory: URL) throws {
        let array: NpyArray
        do {
            array = try NpyFile.read(contentsOf: directory.appendingPathComponent("embeddings.npy"))
        } catch {
            throw ReportFileError("embeddings.npy: \(error)")
        }
        guard array.shape.count == 2, let values = array.floats else {
            throw ReportFileError("embeddings.npy holds a \(array.shape) array, not float32 [N, F]")
        }
        let n = array.shape[0], d = array.shape[1]
        guard n > 0 && d > 0 else { throw ReportFileError("embeddings.npy is empty (\(array.shape))") }
        var notes: [String] = []

        var labels = [Int](repeating: 0, count: n)
        var classNames = ["all samples"]
        if let text = Self.lines(directory, "embeddings.labels.txt") {
            let parsed = text.map { Int($0.trimmingCharacters(in: .whitespaces)) }
            if parsed.count == n, parsed.allSatisfy({ $0 != nil }) {
                labels = parsed.map { $0! }
                let given = Self.lines(directory, "embeddings.classes.txt") ?? []
                let classCount = max(given.count, (labels.max() ?? -1) + 1)
                classNames = (0..<classCount).map { $0 < given.count ? given[$0] : "class \($0)" }
                // Samples without a class (-1: an unlabelled set) get a legend entry of their own.
                if labels.contains(where: { $0 < 0 }) {
                    labels = labels.map { $0 < 0 ? classCount : $0 }
                    classNames.append("unlabelled")
                }
            } else {
                notes.append("embeddings.labels.txt does not hold one integer per embedding (\(parsed.count) lines for \(n) rows); points are not coloured")
            }
        }

        // Rows with a non-finite value would turn every component into NaN.
        let shown = values.withUnsafeBufferPointer { x in
            Self.evenlySpaced(n, Self.maximumPoints).filter { row in (0..<d).allSatisfy { x[row * d + $0].isFinite } }
        }
        let skipped = min(n, Self.maximumPoints) - shown.count
        if skipped > 0 { notes.append("\(skipped) embeddings with non-finite values are left out") }
        guard !shown.isEmpty else { throw ReportFileError("embeddings.npy has no finite row") }
        let points = shown.flatMap { values[($0 * d)..<(($0 + 1) * d)] }
        let pca = PCA(fitting: points, count: shown.count, dimension: d, components: min(2, d))
        let coordinates = pca.transform(points, count: shown.count)
        let k = pca.components.count
        let totalVariance = Self.totalVariance(points, count: shown.count, dimension: d)
        func axis(_ c: Int) -> String {
            guard c < k else { return "" }
            guard totalVariance > 0 else { return "PC\(c + 1)" }
            return "PC\(c + 1) (" + String(format: "%.1f", 100 * pca.explainedVariance[c] / totalVariance) + "% of variance)"
        }
        let title = shown.count == n
            ? "Embeddings: \(n) x \(d), first two principal components"
            : "Embeddings: \(shown.count) of \(n) x \(d), first two principal components"
        var plot = ScatterPlot(title: title, xLabel: axis(0), yLabel: axis(1),
                               x: (0..<shown.count).map { coordinates[$0 * k] },
                               y: (0..<shown.count).map { k > 1 ? coordinates[$0 * k + 1] : 0 },
                               labels: shown.map { labels[$0] }, classNames: classNames)
        plot.width = 900
        plot.height = 560
        plot.pointRadius = shown.count > 500 ? 2 : 3
        scatter = plot
        total = n
        self.notes = notes
    }

    /// `count` indices spread evenly over `0..<n` (all of them when `n <= count`).
    static func evenlySpaced(_ n: Int, _ count: Int) -> [Int] {
        n <= count ? Array(0..<n) : (0..<count).map { $0 * n / count }
    }

    /// Sum of the column variances (divisor `N - 1`, as PCA's explained variance), in two passes
    /// (means, then squared deviations) so a large mean does not cancel the variance away.
    static func totalVariance(_ points: [Float], count n: Int, dimension d: Int) -> Double {
        guard n > 1 else { return 0 }
        var mean = [Double](repeating: 0, count: d)
        var total = 0.0
        points.withUnsafeBufferPointer { x in
            mean.withUnsafeMutableBufferPointer { m in
                for i in 0..<n { for j in 0..<d { m[j] += Double(x[i * d + j]) } }
                for j in 0..<d { m[j] /= Double(n) }
                for i in 0..<n {
                    for j in 0..<d {
                        let e = Double(x[i * d + j]) - m[j]
                        total += e * e
                    }
                }
            }
        }
        return total / Double(n - 1)
    }

    /// The non-empty lines of a text file in `directory`, or nil when it is absent or unreadable.
    static func lines(_ directory: URL, _ name: String) -> [String]? {
        guard let text = try? String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8) else { return nil }
        return text.split(whereSeparator: \.isNewline).map(String.init).filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
    }
}
