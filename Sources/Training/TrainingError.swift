/// Errors a user can cause while setting up or running a job. Each prints as one clear line.
public enum TrainingError: Error, CustomStringConvertible {
    case invalidOption(String)
    case runFolderExists(String)
    case runFolderBusy(String, holder: String)
    case unreadableRunFolder(String, String)
    case nonFiniteLoss(step: Int, value: Float)
    case interrupted(signal: String, checkpoint: String)
    case io(String)

    public var description: String {
        switch self {
        case .invalidOption(let message): return message
        case .runFolderExists(let path):
            return "\(path) already holds a run; pass --resume to continue it or choose another --out"
        case .runFolderBusy(let path, let holder):
            return "\(path) is in use by another job (\(holder)); wait for it to end or choose another --out"
        case .unreadableRunFolder(let path, let why):
            return "cannot resume from \(path): \(why)"
        case .nonFiniteLoss(let step, let value):
            return "the loss became \(value) at step \(step); stopped (the last good checkpoint is kept). Try a lower --lr"
        case .interrupted(let signal, let checkpoint):
            return "stopped by \(signal) after writing \(checkpoint); run again with --resume to continue"
        case .io(let message): return message
        }
    }
}
