import Tensors

/// Features or labels handed to a probe (linear classifier, k-NN) that it cannot work with: no
/// samples, a label outside the declared classes, a feature that is not finite. The message is one
/// line naming the probe and the offending value.
public enum ProbeError: Error, Equatable, CustomStringConvertible {
    case invalidData(String)

    public var description: String {
        switch self {
        case .invalidData(let message): return message
        }
    }
}

/// Throws unless every label is in `0..<classes`.
func checkLabels(_ labels: [Int], classes: Int, probe: String) throws {
    for (i, y) in labels.enumerated() where y < 0 || y >= classes {
        throw ProbeError.invalidData("\(probe): label \(y) of sample \(i) is outside 0..<\(classes)")
    }
}

/// Throws unless every element of `x` is finite.
func checkFinite(_ x: Tensor, probe: String) throws {
    let p = x.data, count = x.count, columns = Swift.max(1, x.shape.last ?? 1)
    for i in 0..<count where !p[i].isFinite {
        throw ProbeError.invalidData("\(probe): feature \(i % columns) of sample \(i / columns) is \(p[i])")
    }
}
