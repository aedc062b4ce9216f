/// A hyperparameter a user chose that the objective, optimiser or schedule cannot work with.
/// The message is one line naming the option and the value.
public enum OptimError: Error, Equatable, CustomStringConvertible {
    case invalidHyperparameter(String)

    public var description: String {
        switch self {
        case .invalidHyperparameter(let message): return message
        }
    }
}
