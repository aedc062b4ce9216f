import Foundation

/// The epochs of steps every trainer runs: from a position (a resumed run starts mid-epoch), each
/// step timed for the watchdog and shown on the progress line, the end of each epoch handed to the
/// trainer, and after every step the stop flag shared across ranks: on a stop the trainer's
/// checkpoint is written and the run ends with the error that says how to resume.
struct StepLoop {
    /// Where a run is: the epoch in progress (from 0) and the next step of it.
    struct Position: Equatable {
        var epoch: Int
        var step: Int
    }

    let context: RunContext
    let stepsPerEpoch: Int
    let epochs: Int
    /// Steps in all after which the run ends even mid-epoch (nil: every epoch).
    var lastStep: Int?

    /// Steps the loop runs in all, counted from the run's start.
    var totalSteps: Int { min(lastStep ?? Int.max, epochs * stepsPerEpoch) }

    /// Runs from `start`. `beginEpoch(epoch, firstStep)` comes before an epoch's first step;
    /// `step(position)` does one step and returns what the progress line shows of it;
    /// `endEpoch(epoch)` runs between epochs, outside the watchdog; `checkpoint` saves the run
    /// when it is stopped.
    func run(from start: Position,
             beginEpoch: (_ epoch: Int, _ firstStep: Int) throws -> Void,
             step: (Position) throws -> [(String, String)],
             endEpoch: (_ epoch: Int) throws -> Void,
             checkpoint: () throws -> Void) throws {
        let display = Progress(totalSteps: totalSteps, enabled: context.isRoot)
        var position = start
        try context.watchingSteps {
            while position.epoch < epochs, position.epoch * stepsPerEpoch + position.step < totalSteps {
                if position.step == 0 || position == start {
                    try context.whilePaused { try beginEpoch(position.epoch, position.step) }
                }
                while position.step < stepsPerEpoch, position.epoch * stepsPerEpoch + position.step < totalSteps {
                    let started = Date()
                    let fields = try step(position)
                    position.step += 1
                    context.stepFinished(seconds: Date().timeIntervalSince(started))
                    display.update(step: position.epoch * stepsPerEpoch + position.step, epoch: position.epoch + 1,
                                   fields: fields)
                    if position.step < stepsPerEpoch, context.stopRequested() { try stopRun(checkpoint) }
                }
                guard position.step == stepsPerEpoch else { break }
                try context.whilePaused { try endEpoch(position.epoch) }
                position = Position(epoch: position.epoch + 1, step: 0)
                if context.stopRequested() { try stopRun(checkpoint) }
            }
        }
    }

    private func stopRun(_ checkpoint: () throws -> Void) throws -> Never {
        try context.whilePaused(checkpoint)
        throw context.interrupted()
    }
}
