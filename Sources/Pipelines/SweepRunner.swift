import Formats
import Foundation
import Spawn
import Training

/// Runs every cell of a `SweepGrid` as a fine-tuning subprocess, one after another, each into
/// `out/cells/<cell>/` with its output in `out/logs/<cell>.log`, and keeps `out/results.*` up to
/// date after each cell.
///
/// A sweep can be run again with the same command: a cell whose `summary.json` exists is skipped;
/// an unfinished cell folder (a failed or interrupted run) is removed and the cell run afresh. A
/// failed cell is reported and the sweep goes on. The options passed to every cell are saved in
/// `out/sweep.json`; running again with different ones is refused, as the table would mix them
/// (the grid and the models may grow).
public final class SweepRunner {
    /// How a sweep ended.
    public struct Outcome {
        public var results: SweepResults
        /// Folder names of the cells that failed.
        public var failed: [String]
        public var ran: Int
        public var skipped: Int
        /// A stop signal ended the sweep before every cell was run.
        public var interrupted: Bool
    }

    public let grid: SweepGrid
    /// The fine-tuning command's words before its options (`/path/simclr finetune`).
    public let command: [String]
    /// Options every cell gets (`--data PATH --mode linear ...`).
    public let fixed: [String]
    public let out: URL
    let log: (String) -> Void

    public init(grid: SweepGrid, command: [String], fixed: [String], out: URL,
                log: @escaping (String) -> Void = { writeError($0 + "\n") }) {
        precondition(!command.isEmpty, "SweepRunner: empty command")
        self.grid = grid
        self.command = command
        self.fixed = fixed
        self.out = out
        self.log = log
    }

    /// `[this executable, "finetune"]`: the binary found through `/proc/self/exe`, or
    /// `CommandLine.arguments[0]` made absolute (searched on `PATH` when it has no slash).
    public static func selfCommand() -> [String] {
        if let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"),
           FileManager.default.isExecutableFile(atPath: path) {
            return [path, "finetune"]
        }
        let argument0 = CommandLine.arguments.first ?? "simclr"
        if argument0.contains("/") {
            let url = URL(fileURLWithPath: argument0, relativeTo: URL(fileURLWithPath: FileManager.default.currentDirectoryPath))
            return [url.standardizedFileURL.path, "finetune"]
        }
        let path = SpawnedProcess.executable(argument0, searchPath: ProcessInfo.processInfo.environment["PATH"])
        return [path ?? argument0, "finetune"]
    }

    var cellsDirectory: URL { out.appendingPathComponent("cells") }
    var logsDirectory: URL { out.appendingPathComponent("logs") }

    /// Runs the cells that have not finished. Throws a `TrainingError` for options that clash
    /// with the grid or with an earlier sweep in `out`, or a folder that cannot be written; a
    /// failing cell is not an error here (see `Outcome.failed`).
    public func run(stop: StopSignal? = nil) throws -> Outcome {
        try grid.checkFixed(fixed)
        let fm = FileManager.default
        do {
            try fm.createDirectory(at: cellsDirectory, withIntermediateDirectories: true)
            try fm.createDirectory(at: logsDirectory, withIntermediateDirectories: true)
        } catch {
            throw TrainingError.io("cannot create the sweep folder \(out.path): \(error)")
        }
        // One sweep at a time in a folder; each cell's own run also holds its cell folder.
        let lock = try RunFolderLock(folder: out, path: out.path)
        defer { lock.release() }
        try recordSettings()

        let cells = grid.cells
        var rows = cells.map { SweepResults.Row(cell: $0, status: .notRun, metrics: SweepResults.metricKeys.map { _ in .nan }) }
        var outcome = Outcome(results: SweepResults(grid: grid, rows: rows), failed: [], ran: 0, skipped: 0, interrupted: false)
        log("sweep of \(cells.count) cell(s) (\(grid.models.count) model(s) x \(cells.count / max(grid.models.count, 1)) setting(s)) in \(out.path)")
        for (index, cell) in cells.enumerated() {
            if stop?.signalName != nil {
                outcome.interrupted = true
                break
            }
            let directory = cellsDirectory.appendingPathComponent(cell.folderName)
            let summary = directory.appendingPathComponent("summary.json")
            let position = "[\(index + 1)/\(cells.count)]"
            if fm.fileExists(atPath: summary.path) {
                log("\(position) skipping finished cell \(cell.folderName)")
                rows[index].status = .finished
                rows[index].metrics = SweepResults.readSummary(summary) ?? rows[index].metrics
                outcome.skipped += 1
                continue
            }
            if RunFolderLock.isHeld(folder: directory) {
                log("\(position) \(cell.folderName) is being run by another job; left to it")
                rows[index].status = .failed
                outcome.failed.append(cell.folderName)
                continue
            }
            if fm.fileExists(atPath: directory.path) {
                log("\(position) removing the unfinished folder of \(cell.folderName) to run it again")
                try? fm.removeItem(at: directory)
            }
            log("\(position) running \(cell.folderName)")
            let logURL = logsDirectory.appendingPathComponent(cell.folderName + ".log")
            let arguments = grid.arguments(for: cell, fixed: fixed, out: directory)
            let started = Date()
            let ending = runChild(arguments: arguments, logURL: logURL, stop: stop)
            let seconds = Date().timeIntervalSince(started)
            outcome.ran += 1
            if ending == "interrupted" {
                log("\(position) \(cell.folderName) interrupted; run the sweep again to continue")
                outcome.interrupted = true
                outcome.results = SweepResults(grid: grid, rows: rows)
                break
            }
            if ending == nil, var metrics = SweepResults.readSummary(summary) {
                if !metrics[metrics.count - 1].isFinite { metrics[metrics.count - 1] = seconds }
                rows[index].status = .finished
                rows[index].metrics = metrics
                log("\(position) finished \(cell.folderName): test accuracy "
                    + (metrics[0].isFinite ? String(format: "%.4f", metrics[0]) : "not reported")
                    + String(format: " (%.0f s)", seconds))
            } else {
                rows[index].status = .failed
                outcome.failed.append(cell.folderName)
                let why = ending ?? "it ended without writing summary.json"
                log("\(position) cell \(cell.folderName) FAILED: \(why); see \(logURL.path)"
                    + (Self.errorLine(of: logURL).map { "\n    \($0)" } ?? ""))
            }
            outcome.results = SweepResults(grid: grid, rows: rows)
            try outcome.results.write(to: out)
        }
        outcome.results = SweepResults(grid: grid, rows: rows)
        try outcome.results.write(to: out)
        return outcome
    }

    /// Runs one cell, its output appended to `logURL` after the command line; nil when it exited
    /// with status 0, "interrupted" when a stop signal ended it, otherwise why it failed. A child that
    /// ignores the stop for 10 s is killed: the cell is run afresh anyway.
    func runChild(arguments: [String], logURL: URL, stop: StopSignal?) -> String? {
        let words = command + arguments
        do {
            try AtomicFile.write(Data(("$ " + words.joined(separator: " ") + "\n").utf8), to: logURL)
            let child = try SpawnedProcess(words, output: .file(logURL))
            switch child.wait(grace: 10, stoppingWhen: { stop?.signalName != nil }) {
            case .exited(0): return nil
            case .exited(let status): return "exit status \(status)"
            case .signalled(let signal): return "killed by signal \(signal)"
            case .stopped: return "interrupted"
            }
        } catch {
            return "\(error)"
        }
    }

    /// `out/sweep.json`: the grid, the models, the command and the fixed options. A second sweep
    /// into the same folder must pass the same fixed options.
    func recordSettings() throws {
        let url = out.appendingPathComponent("sweep.json")
        if let data = try? Data(contentsOf: url),
           let saved = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
           let savedFixed = saved["fixed"] as? [String], savedFixed != fixed {
            throw TrainingError.invalidOption(
                "\(out.path) holds a sweep whose cells got other options (\(savedFixed.joined(separator: " "))); "
                + "pass the same ones to continue it, or choose another --out")
        }
        let object: [String: Any] = [
            "command": "sweep",
            "grid": grid.variables.map { ["name": $0.name, "values": $0.values] },
            "models": grid.models.map { ["name": $0.name, "weights": $0.weights ?? "random"] },
            "fixed": fixed,
            "finetune": command,
        ]
        do {
            try AtomicFile.write(try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]),
                                 to: url)
        } catch {
            throw TrainingError.io("cannot write \(url.path): \(error)")
        }
    }

    /// A failed cell's first error line (`simclr: ...`, or the parser's `Error: ...`), else the last
    /// non-empty line of its log, trimmed to 300 characters.
    static func errorLine(of url: URL) -> String? {
        guard let text = try? String(contentsOf: url, encoding: .utf8) else { return nil }
        let lines = text.split(whereSeparator: { $0 == "\n" || $0 == "\r" })
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }.dropFirst()   // line 1 is the command
        let error = lines.first { $0.hasPrefix("simclr:") || $0.hasPrefix("Error:") }
        return (error ?? lines.last).map { String($0.prefix(300)) }
    }
}
