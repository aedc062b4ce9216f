import Formats
import Foundation
import Report

/// The table of a sweep: one row per cell with the numbers its `summary.json` reports, written as
/// `results.csv`, `results.md` and one grouped bar chart per swept variable
/// (`test_accuracy_by_<variable>.svg`: test accuracy per model at each value of the variable,
/// averaged over the other variables' values), as the motivating study's figures are drawn.
public struct SweepResults {
    /// What became of a cell.
    public enum Status: String {
        case finished, failed, notRun = "not run"
    }

    public struct Row {
        public var cell: SweepGrid.Cell
        public var status: Status
        /// `metrics[key]` for each of `SweepResults.metricKeys` (NaN when the summary lacks it).
        public var metrics: [Double]

        public init(cell: SweepGrid.Cell, status: Status, metrics: [Double]) {
            self.cell = cell
            self.status = status
            self.metrics = metrics
        }
    }

    /// The `summary.json` numbers every row shows, in column order.
    public static let metricKeys = ["test_accuracy", "test_top5_accuracy", "mean_per_class_accuracy",
                                    "best_val_accuracy", "wall_seconds"]

    public var grid: SweepGrid
    public var rows: [Row]

    public init(grid: SweepGrid, rows: [Row]) {
        self.grid = grid
        self.rows = rows
    }

    /// The metrics in a cell's `summary.json`, or nil when the file is missing or not a JSON object.
    public static func readSummary(_ url: URL) -> [Double]? {
        guard let data = try? Data(contentsOf: url),
              let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else { return nil }
        return metricKeys.map { (object[$0] as? NSNumber)?.doubleValue ?? .nan }
    }

    var header: [String] { ["model"] + grid.variables.map(\.name) + Self.metricKeys + ["status"] }

    func fields(_ row: Row, number: (Double) -> String) -> [String] {
        [row.cell.model.name] + row.cell.values + row.metrics.map { $0.isFinite ? number($0) : "" } + [row.status.rawValue]
    }

    /// `results.csv`: a header, then one line per cell (fields quoted when they hold a comma or quote).
    public func csv() -> String {
        func quoted(_ field: String) -> String {
            field.contains(where: { ",\"\n".contains($0) }) ? "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : field
        }
        let lines = [header] + rows.map { fields($0, number: { "\($0)" }) }
        return lines.map { $0.map(quoted).joined(separator: ",") + "\n" }.joined()
    }

    /// `results.md`: the same table in Markdown, accuracies with 4 decimals, seconds with 1.
    public func markdown() -> String {
        func cell(_ text: String) -> String { text.replacingOccurrences(of: "|", with: "\\|") }
        var out = "| " + header.map(cell).joined(separator: " | ") + " |\n"
        out += "|" + header.map { _ in " --- |" }.joined() + "\n"
        for row in rows {
            var columns = fields(row) { String(format: "%.4f", $0) }
            let secondsColumn = 1 + grid.variables.count + Self.metricKeys.count - 1
            if let seconds = row.metrics.last, seconds.isFinite { columns[secondsColumn] = String(format: "%.1f", seconds) }
            out += "| " + columns.map(cell).joined(separator: " | ") + " |\n"
        }
        return out
    }

    /// One chart per swept variable (one chart over the models when nothing is swept), keyed by
    /// file name.
    public func charts() -> [(fileName: String, svg: String)] {
        let models = grid.models.map(\.name)
        func mean(_ rows: [Row]) -> Double {
            let values = rows.filter { $0.status == .finished }.map { $0.metrics[0] }.filter(\.isFinite)
            return values.isEmpty ? .nan : values.reduce(0, +) / Double(values.count)
        }
        func chart(_ title: String, xLabel: String, groups: [String], values: [[Double]]) -> String {
            var chart = GroupedBarChart(title: title, xLabel: xLabel, yLabel: "test accuracy", groups: groups,
                                        series: models, values: values)
            chart.valueLabel = { String(format: "%.3f", $0) }
            chart.width = max(720, Double(groups.count * models.count) * 34 + 200)
            return chart.svg()
        }
        guard !grid.variables.isEmpty else {
            let values = [models.map { model in mean(rows.filter { $0.cell.model.name == model }) }]
            return [("test_accuracy.svg", chart("Test accuracy per model", xLabel: "", groups: ["all cells"], values: values))]
        }
        return grid.variables.enumerated().map { index, variable in
            let values = variable.values.map { value in
                models.map { model in
                    mean(rows.filter { $0.cell.model.name == model && $0.cell.values[index] == value })
                }
            }
            let others = grid.variables.count > 1 ? " (mean over the other settings)" : ""
            return ("test_accuracy_by_\(SweepGrid.folderSafe(variable.name)).svg",
                    chart("Test accuracy by \(variable.name)\(others)", xLabel: variable.name,
                          groups: variable.values, values: values))
        }
    }

    /// Writes `results.csv`, `results.md` and the charts into `directory`.
    public func write(to directory: URL) throws {
        do {
            try AtomicFile.write(Data(csv().utf8), to: directory.appendingPathComponent("results.csv"))
            try AtomicFile.write(Data(markdown().utf8), to: directory.appendingPathComponent("results.md"))
            for (name, svg) in charts() {
                try AtomicFile.write(Data(svg.utf8), to: directory.appendingPathComponent(name))
            }
        } catch {
            throw TrainingError.io("cannot write the sweep's results to \(directory.path): \(error)")
        }
    }
}
