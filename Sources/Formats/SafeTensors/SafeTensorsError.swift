import Foundation

/// Why a safetensors file could not be read, or a tensor could not be taken from it. `source` is
/// the file's path (or `<memory>` for bytes that never were a file).
public enum SafeTensorsError: Error, LocalizedError, CustomStringConvertible, Equatable {
    /// The file could not be opened or read.
    case unreadable(source: String, reason: String)
    /// The file ends before the header or the data it announces.
    case truncated(source: String, detail: String)
    /// The JSON header is malformed or does not describe tensors.
    case invalidHeader(source: String, detail: String)
    /// A tensor's `dtype` is not one the format defines.
    case unknownDType(source: String, tensor: String, dtype: String)
    /// A tensor's `data_offsets` fall outside the data, overlap another tensor, or do not match
    /// its shape.
    case invalidOffsets(source: String, tensor: String, detail: String)
    /// No tensor of that name.
    case missingTensor(source: String, name: String)
    /// The tensor's element type cannot be read as the requested one.
    case dtypeMismatch(source: String, name: String, dtype: SafeTensorsDType, requested: String)
    /// The destination does not have as many elements as the tensor.
    case countMismatch(source: String, name: String, shape: [Int], destinationCount: Int)

    public var description: String {
        switch self {
        case let .unreadable(source, reason):
            return "\(source): cannot read safetensors file: \(reason)"
        case let .truncated(source, detail):
            return "\(source): truncated safetensors file: \(detail)"
        case let .invalidHeader(source, detail):
            return "\(source): invalid safetensors header: \(detail)"
        case let .unknownDType(source, tensor, dtype):
            return "\(source): tensor '\(tensor)' has unknown dtype '\(dtype)'"
        case let .invalidOffsets(source, tensor, detail):
            return "\(source): tensor '\(tensor)' has invalid data_offsets: \(detail)"
        case let .missingTensor(source, name):
            return "\(source): no tensor named '\(name)'"
        case let .dtypeMismatch(source, name, dtype, requested):
            return "\(source): tensor '\(name)' is \(dtype.rawValue) and cannot be read as \(requested)"
        case let .countMismatch(source, name, shape, destinationCount):
            return "\(source): tensor '\(name)' has shape \(shape), which does not fit \(destinationCount) elements"
        }
    }
    public var errorDescription: String? { description }
}
