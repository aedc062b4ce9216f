/// Why a `SpawnedProcess` could not be started. Each prints as one line.
public enum SpawnError: Error, CustomStringConvertible {
    /// A program name without a slash that no folder of `PATH` holds.
    case notFound(program: String, searchPath: String)
    /// The file the output goes to cannot be opened for writing.
    case cannotWriteOutput(path: String, reason: String)
    /// fork or exec failed (no such file, not executable, not a program ...).
    case cannotStart(program: String, reason: String)

    public var description: String {
        switch self {
        case .notFound(let program, let searchPath):
            return "cannot start \(program): no such program in PATH (\(searchPath))"
        case .cannotWriteOutput(let path, let reason):
            return "cannot write \(path): \(reason)"
        case .cannotStart(let program, let reason):
            return "cannot start \(program): \(reason)"
        }
    }
}
