import Dispatch
import Foundation

/// Turns SIGINT and SIGTERM into a flag the training loop checks between steps, so the step in flight
/// finishes and a checkpoint is written before the process exits.
public final class StopSignal {
    private var sources: [DispatchSourceSignal] = []
    private let lock = NSLock()
    private var received: String?

    public init() {
        for (number, name) in [(SIGINT, "SIGINT"), (SIGTERM, "SIGTERM")] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [weak self] in
                guard let self else { return }
                self.lock.lock()
                let first = self.received == nil
                if first { self.received = name }
                self.lock.unlock()
                // A second signal means the user does not want to wait for the checkpoint.
                if !first { Foundation.exit(130) }
            }
            source.resume()
            sources.append(source)
        }
    }

    /// The name of the first signal received, if any.
    public var signalName: String? {
        lock.lock(); defer { lock.unlock() }
        return received
    }

    deinit {
        for s in sources { s.cancel() }
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
    }
}
