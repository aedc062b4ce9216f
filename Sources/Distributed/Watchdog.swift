import Foundation

/// Ends the whole job when this rank stops making progress.
///
/// Open MPI does not notice a rank that is alive but stuck, nor a peer whose packets are silently
/// dropped: the other ranks wait in their collective forever. So every rank runs a watchdog; the
/// trainer calls `heartbeat()` once per step, and when no heartbeat arrives within `deadline`
/// seconds the watchdog's thread writes one line naming the rank and host to standard error and
/// aborts the job through the communicator (`MPI_Abort`), so that `mpirun` exits non-zero.
///
/// A rank that is waiting inside a collective when its deadline passes waits `peerGrace` seconds
/// more before aborting: if a peer is stuck outside communication, that peer's own watchdog fires
/// first and its line names the culprit. Pause the watchdog around work that is slow by design
/// (checkpoint writes, evaluation) with `pause()`/`resume()` or `whilePaused { ... }`.
public final class Watchdog {
    /// The exit code of a job ended by a watchdog (as `timeout(1)` uses).
    public static let exitCode: Int32 = 124

    /// What a watchdog does when it expires, given its one-line message. The default writes the
    /// line and aborts the job; tests pass a handler that records it instead.
    public typealias ExpiryHandler = (_ message: String) -> Void

    private let communicator: Communicator
    private let onExpiry: ExpiryHandler
    private let peerGrace: Double
    private let condition = NSCondition()
    private var deadlineSeconds: Double
    private var lastBeat: Double
    private var pauseDepth = 0
    private var running = false
    private var stopRequested = false
    private let finished = DispatchSemaphore(value: 0)

    /// - Parameters:
    ///   - deadline: seconds without a heartbeat after which the job is aborted; see
    ///     `deadline(stepSeconds:multiple:floor:)`.
    ///   - peerGrace: extra seconds granted to a rank that is waiting inside a collective, so a
    ///     peer that is stuck itself gets to report first (Open MPI takes about 1 s to end a job).
    ///   - onExpiry: replaces the default action (write the line, `communicator.abort`).
    public init(communicator: Communicator, deadline: Double, peerGrace: Double = 5,
                onExpiry: ExpiryHandler? = nil) {
        precondition(deadline > 0 && peerGrace >= 0, "Watchdog: deadline \(deadline) s, peerGrace \(peerGrace) s")
        self.communicator = communicator
        self.deadlineSeconds = deadline
        self.peerGrace = peerGrace
        self.lastBeat = Watchdog.monotonicSeconds()
        self.onExpiry = onExpiry ?? { [communicator] message in
            communicator.abort(code: Watchdog.exitCode, message: message)
        }
    }

    /// The deadline before any step has been timed: the first steps also allocate and warm up.
    public static let initialDeadline: Double = 120

    /// A deadline from recent step times: `multiple` times the slowest, so a peer that stops
    /// answering ends the job within a few steps' time, and never below `floor`, which exceeds Open
    /// MPI's own detection of a lost host (about 12 s with the keepalive settings `launch` passes).
    public static func deadline(stepSeconds: [Double], multiple: Double = 4, floor: Double = 15) -> Double {
        guard let slowest = stepSeconds.max() else { return initialDeadline }
        return max(multiple * slowest, floor)
    }

    /// Seconds without a heartbeat before the job is aborted; may be changed while running.
    public var deadline: Double {
        get { condition.lock(); defer { condition.unlock() }; return deadlineSeconds }
        set {
            precondition(newValue > 0, "Watchdog: deadline \(newValue) s")
            condition.lock()
            deadlineSeconds = newValue
            condition.signal()
            condition.unlock()
        }
    }

    /// Starts the watchdog's thread; the deadline counts from now.
    public func start() {
        condition.lock()
        precondition(!running, "Watchdog.start called twice")
        running = true
        lastBeat = Watchdog.monotonicSeconds()
        condition.unlock()
        let thread = Thread { [self] in watch() }
        thread.name = "simclr-watchdog"
        thread.start()
    }

    /// Records progress: the deadline counts again from now. Cheap enough to call every step.
    public func heartbeat() {
        let now = Watchdog.monotonicSeconds()
        condition.lock()
        lastBeat = now
        condition.unlock()
    }

    /// Suspends the deadline until the matching `resume()`; pauses nest.
    public func pause() {
        condition.lock()
        pauseDepth += 1
        condition.unlock()
    }

    /// Ends one `pause()`; when the last one ends, the deadline counts again from now.
    public func resume() {
        condition.lock()
        precondition(pauseDepth > 0, "Watchdog.resume without pause")
        pauseDepth -= 1
        if pauseDepth == 0 { lastBeat = Watchdog.monotonicSeconds() }
        condition.signal()
        condition.unlock()
    }

    /// Runs `body` with the watchdog paused.
    public func whilePaused<T>(_ body: () throws -> T) rethrows -> T {
        pause()
        defer { resume() }
        return try body()
    }

    /// Stops the watchdog's thread and waits for it to end. Call before `communicator.finalize()`.
    public func stop() {
        condition.lock()
        let wasRunning = running
        stopRequested = true
        condition.signal()
        condition.unlock()
        if wasRunning { finished.wait() }
    }

    private func watch() {
        defer { finished.signal() }
        condition.lock()
        var message: String?
        while !stopRequested {
            if pauseDepth > 0 {
                condition.wait()
                continue
            }
            let idle = Watchdog.monotonicSeconds() - lastBeat
            if idle < deadlineSeconds {
                _ = condition.wait(until: Date(timeIntervalSinceNow: deadlineSeconds - idle))
                continue
            }
            let waitingIn = communicator.currentCollective
            if waitingIn != nil && idle < deadlineSeconds + peerGrace {
                _ = condition.wait(until: Date(timeIntervalSinceNow: deadlineSeconds + peerGrace - idle))
                continue
            }
            message = expiryMessage(idle: idle, waitingIn: waitingIn)
            break
        }
        condition.unlock()
        if let message { onExpiry(message) }
    }

    private func expiryMessage(idle: Double, waitingIn collective: String?) -> String {
        let seconds = idle >= 10 ? String(format: "%.0f", idle) : String(format: "%.1f", idle)
        let reason = collective.map { "while waiting in \($0) (a peer is hung or the network is lost)" }
            ?? "outside communication (this rank itself is stuck)"
        return "simclr: rank \(communicator.rank) on host \(communicator.hostName) made no progress for \(seconds) s "
            + "\(reason); aborting the job"
    }

    private static func monotonicSeconds() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
    }
}
