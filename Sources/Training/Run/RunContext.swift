import Distributed
import Foundation
import Formats
import Optim
import Tensors

/// What every training run has, whatever it trains: its ranks, its folder (config, metrics,
/// checkpoints, summary page), its log, the watchdog that ends a job whose peer stopped answering,
/// and the stop signal. Rank 0 alone writes files; state crosses ranks only through `shared` and
/// `broadcast`.
final class RunContext {
    let comm: Communicator
    let folder: RunFolder
    let settings: RunSettings
    /// Rank 0's log; the other ranks' is silent.
    let log: (String) -> Void
    let stop: StopSignal?
    /// Rank 0's `metrics.jsonl`, once `prepare` has run.
    private(set) var metrics: JSONLinesWriter?
    private let watchdog: Watchdog
    private var stepSeconds: [Double] = []
    /// Rank 0's hold on the run folder, for as long as the run lasts.
    private var lock: RunFolderLock?
    private var createdFolder = false
    private var isNewRun = false

    init(out: String, communicator: Communicator, settings: RunSettings, stop: StopSignal?,
         log: @escaping (String) -> Void) {
        comm = communicator
        folder = RunFolder(out)
        self.settings = settings
        self.stop = stop
        self.log = communicator.rank == 0 ? log : { _ in }
        watchdog = Watchdog(communicator: communicator, deadline: Watchdog.deadline(stepSeconds: []))
        Threads.configure(settings.threads)
    }

    var isRoot: Bool { comm.rank == 0 }

    /// A new run's folder made, taken for this job and its config written, or a resumed run's
    /// folder taken and its checkpoint found (rank 0 decides, every rank follows).
    func prepare<Config: Encodable>(config: Config, resume: Bool) throws {
        try onRoot {
            let (lock, created) = try folder.claim()
            do {
                try folder.prepare(config: config, resume: resume)
            } catch {
                lock.release()
                if created { folder.abandonUnstartedRun(created: true) }
                throw error
            }
            self.lock = lock
            createdFolder = created
        }
        isNewRun = !resume
    }

    /// Opens rank 0's `metrics.jsonl` for appending. A resumed run first drops, atomically, the
    /// lines its checkpoint does not cover (`keep` is false: written after the checkpoint by a job
    /// that then died) and a torn last line, so its log equals that of a run that never stopped.
    func openMetrics(keep: ([String: Any]) -> Bool) throws {
        guard isRoot else { return }
        let url = folder.url.appendingPathComponent("metrics.jsonl")
        if !isNewRun, let text = try? String(contentsOf: url, encoding: .utf8) {
            let kept = text.split(separator: "\n", omittingEmptySubsequences: true).filter { line in
                guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                    return false
                }
                return keep(object)
            }
            let rewritten = kept.map { $0 + "\n" }.joined()
            if rewritten != text { try AtomicFile.write(Data(rewritten.utf8), to: url) }
        }
        metrics = try JSONLinesWriter(url: url)
    }

    /// Runs `body`, the whole run; if a new run fails before its first checkpoint, rank 0 leaves the
    /// folder as it found it (see `RunFolder.abandonUnstartedRun`), so the command can be run again.
    func cleaningUpAfterFailure<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch {
            if isRoot, isNewRun, lock != nil { folder.abandonUnstartedRun(created: createdFolder) }
            lock?.release()
            throw error
        }
    }

    /// Runs `body` on rank 0 and makes every rank throw if it threw, so that no rank waits forever in
    /// a collective for a rank that gave up.
    func onRoot(_ body: () throws -> Void) throws {
        try comm.agree(body)
    }

    /// Rank 0's `value` on every rank (as JSON: plain numbers and small structures).
    func shared<T: Codable>(_ value: T) throws -> T {
        var bytes = isRoot ? Array(try JSONEncoder().encode(value)) : []
        comm.broadcastBytes(&bytes, root: 0)
        return try JSONDecoder().decode(T.self, from: Data(bytes))
    }

    /// Rank 0's parameters and buffers in `store` on every rank.
    func broadcast(_ store: ParameterStore) {
        comm.broadcast(store.values, count: store.count, root: 0)
        for b in store.buffers { comm.broadcast(b.tensor.data, count: b.tensor.count, root: 0) }
    }

    /// Rank 0's optimiser state (moments and step count) on every rank.
    func broadcast(_ optimizer: Optimizer) throws {
        for (_, t) in optimizer.state { comm.broadcast(t.data, count: t.count, root: 0) }
        optimizer.stepCount = try shared(optimizer.stepCount)
    }

    /// Reads a checkpoint on rank 0 (`read` restores the model and optimiser there and returns where
    /// the run was), then gives every rank the same model, optimiser state and position.
    func restore<State: Codable>(stores: [ParameterStore], optimizer: Optimizer?,
                                 read: () throws -> State) throws -> State {
        var state: State?
        try onRoot { state = try read() }
        let position = try shared(state)
        if let optimizer { try broadcast(optimizer) }
        for store in stores { broadcast(store) }
        guard let position else { preconditionFailure("RunContext.restore: rank 0 read no state") }
        return position
    }

    /// Whether any rank received a stop signal (every rank calls it after the same step).
    func stopRequested() -> Bool {
        comm.allReduceMax(stop?.signalName == nil ? 0 : 1) > 0
    }

    /// The error that ends a run stopped by a signal after `checkpoint` was written.
    func interrupted() -> TrainingError {
        .interrupted(signal: stop?.signalName ?? "a signal on another rank", checkpoint: folder.lastCheckpoint.path)
    }

    /// Watches the steps of `body` (several ranks only): a step that takes far longer than the
    /// recent ones ends the job with a message.
    func watchingSteps<T>(_ body: () throws -> T) rethrows -> T {
        if comm.size > 1 { watchdog.start() }
        defer { watchdog.stop() }
        return try body()
    }

    /// A step took `seconds`: the watchdog hears from this rank, and its deadline follows the
    /// recent steps.
    func stepFinished(seconds: Double) {
        stepSeconds.append(seconds)
        watchdog.heartbeat()
        if stepSeconds.count >= 5 {
            watchdog.deadline = Watchdog.deadline(stepSeconds: Array(stepSeconds.suffix(50)))
        }
    }

    /// Work between steps (evaluation, checkpoints) that the watchdog does not time.
    func whilePaused<T>(_ body: () throws -> T) rethrows -> T {
        try watchdog.whilePaused(body)
    }

    /// Writes the run's summary page (rank 0); a failure is a warning, never the end of the run.
    func writeSummaryPage() {
        guard isRoot else { return }
        do {
            log("summary page: \(try RunReport.write(runDirectory: folder.url).path)")
        } catch {
            log("warning: could not write the summary page: \(error)")
        }
    }
}
