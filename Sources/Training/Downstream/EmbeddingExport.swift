import Formats
import Foundation
import Images
import Report
import Tensors

/// Embeddings on disk: `F.npy` (float32 `[N, D]`, one row per image in the dataset's order, what
/// `np.load` opens) and three text files beside it, each with one line per row unless noted:
///
/// - `F.paths.txt`: `path<TAB>label<TAB>class` (the image's file, or `name#index` for in-memory
///   sets; the integer label, -1 when unlabelled; the class name, empty when unlabelled). A tab,
///   newline, carriage return or backslash inside a field is written `\t`, `\n`, `\r`, `\\`.
/// - `F.labels.txt`: the integer label.
/// - `F.classes.txt`: the dataset's class names, one per line in label order (not one per row;
///   empty for an unlabelled set).
///
/// Named `embeddings.npy`, the files are what a run folder's summary page (`RunReport`) plots.
/// `F` is the output path without its `.npy`.
public enum EmbeddingExport {
    /// The files written for `npy` (`out/F.npy`).
    public struct Files: Equatable {
        public var npy: URL
        public var paths: URL
        public var labels: URL
        public var classes: URL

        public init(npy: URL) {
            let base = npy.deletingPathExtension()
            self.npy = npy
            paths = URL(fileURLWithPath: base.path + ".paths.txt")
            labels = URL(fileURLWithPath: base.path + ".labels.txt")
            classes = URL(fileURLWithPath: base.path + ".classes.txt")
        }
    }

    /// Writes `features: [N, D]` of `dataset` (row i is image i) and the sidecars. Throws a
    /// `TrainingError` when a file cannot be written.
    @discardableResult
    public static func write(features: Tensor, labels: [Int], dataset: ImageDataset, to npy: URL) throws -> Files {
        precondition(features.rank == 2 && features.shape[0] == dataset.count && labels.count == dataset.count,
                     "EmbeddingExport: features \(features.shape) and \(labels.count) labels for \(dataset.count) images")
        let files = Files(npy: npy)
        let names = dataset.classNames
        var pathLines = "", labelLines = ""
        for (i, label) in labels.enumerated() {
            let className = names.indices.contains(label) ? names[label] : ""
            pathLines += escaped(dataset.source(at: i)) + "\t\(label)\t" + escaped(className) + "\n"
            labelLines += "\(label)\n"
        }
        let classLines = names.map { escaped($0) + "\n" }.joined()
        do {
            try FileManager.default.createDirectory(at: npy.deletingLastPathComponent(), withIntermediateDirectories: true)
            try NpyFile.write(floats: Array(UnsafeBufferPointer(start: features.data, count: features.count)),
                              shape: features.shape, to: files.npy)
            try AtomicFile.write(Data(pathLines.utf8), to: files.paths)
            try AtomicFile.write(Data(labelLines.utf8), to: files.labels)
            try AtomicFile.write(Data(classLines.utf8), to: files.classes)
        } catch {
            throw TrainingError.io("cannot write the embeddings to \(npy.path): \(error)")
        }
        return files
    }

    /// A field with the characters that would break a line or a column escaped.
    static func escaped(_ text: String) -> String {
        guard text.contains(where: { "\t\n\r\\".contains($0) }) else { return text }
        var out = ""
        for c in text {
            switch c {
            case "\\": out += "\\\\"
            case "\t": out += "\\t"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            default: out.append(c)
            }
        }
        return out
    }

    /// At most this many points are plotted (evenly spaced by index), to keep the SVG light.
    public static let maximumPlotPoints = 5000

    /// The first two principal components of `features: [N, D]` as a scatter plot, one colour per
    /// class (unlabelled rows, label -1, get a legend entry of their own).
    public static func scatterPlot(features: Tensor, labels: [Int], classNames: [String], title: String) -> ScatterPlot {
        let n = features.shape[0], d = features.shape[1]
        precondition(n > 0 && labels.count == n, "EmbeddingExport.scatterPlot: \(n) rows, \(labels.count) labels")
        let step = max(1, (n + maximumPlotPoints - 1) / maximumPlotPoints)
        let rows = Array(stride(from: 0, to: n, by: step))
        var points = [Float](repeating: 0, count: rows.count * d)
        for (k, row) in rows.enumerated() {
            for j in 0..<d { points[k * d + j] = features.data[row * d + j] }
        }
        let pca = PCA(fitting: points, count: rows.count, dimension: d, components: min(2, d))
        let coordinates = pca.transform(points, count: rows.count)
        let c = pca.components.count
        var names = classNames.isEmpty ? ["all images"] : classNames
        var shown = rows.map { classNames.isEmpty ? 0 : labels[$0] }
        if shown.contains(where: { $0 < 0 || $0 >= names.count }) {
            shown = shown.map { $0 < 0 || $0 >= names.count ? names.count : $0 }
            names.append("unlabelled")
        }
        let total = Self.totalVariance(points, count: rows.count, dimension: d)
        func axis(_ k: Int) -> String {
            guard k < c, total > 0 else { return "PC\(k + 1)" }
            return String(format: "PC%d (%.1f%% of variance)", k + 1, 100 * pca.explainedVariance[k] / total)
        }
        return ScatterPlot(title: title, xLabel: axis(0), yLabel: axis(1),
                           x: (0..<rows.count).map { coordinates[$0 * c] },
                           y: (0..<rows.count).map { c > 1 ? coordinates[$0 * c + 1] : 0 },
                           labels: shown, classNames: names)
    }

    /// The sum of the column variances (divisor n - 1) of `points: [n, d]`.
    static func totalVariance(_ points: [Float], count n: Int, dimension d: Int) -> Double {
        guard n > 1 else { return 0 }
        var total = 0.0
        for j in 0..<d {
            var mean = 0.0
            for i in 0..<n { mean += Double(points[i * d + j]) }
            mean /= Double(n)
            var squares = 0.0
            for i in 0..<n {
                let v = Double(points[i * d + j]) - mean
                squares += v * v
            }
            total += squares / Double(n - 1)
        }
        return total
    }
}
