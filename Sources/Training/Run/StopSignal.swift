import Foundation

/// The first stop signal received (0: none). A signal handler may only touch such plain state.
nonisolated(unsafe) private var receivedSignal: Int32 = 0

/// Turns SIGINT and SIGTERM into a flag the training loop checks between steps, so the step in flight
/// finishes and a checkpoint is written before the process exits. A second signal exits at once.
public final class StopSignal {
    public init() {
        receivedSignal = 0
        for number in [SIGINT, SIGTERM] {
            signal(number) { n in
                if receivedSignal != 0 { _exit(128 + n) }
                receivedSignal = n
            }
        }
    }

    /// The name of the first signal received, if any.
    public var signalName: String? {
        switch receivedSignal {
        case 0: return nil
        case SIGINT: return "SIGINT"
        case SIGTERM: return "SIGTERM"
        default: return "signal \(receivedSignal)"
        }
    }

    deinit {
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
    }
}
