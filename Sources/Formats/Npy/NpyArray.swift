/// An array read from a `.npy` file.
public struct NpyArray: Equatable {
    /// The elements, row-major (C order).
    public enum Values: Equatable {
        case float32([Float])
        case int64([Int64])
    }

    public let shape: [Int]
    public let values: Values

    public init(shape: [Int], values: Values) {
        self.shape = shape
        self.values = values
    }

    /// The elements when the array is floating point.
    public var floats: [Float]? {
        if case let .float32(v) = values { return v }
        return nil
    }

    /// The elements when the array is integer.
    public var int64s: [Int64]? {
        if case let .int64(v) = values { return v }
        return nil
    }
}
