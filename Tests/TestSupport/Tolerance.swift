import Foundation
import Tensors
import XCTest

/// Asserts `|a - b| <= atol + rtol * |b|` element-wise, reporting the worst element.
public func assertClose(_ a: [Float], _ b: [Float], rtol: Float = 1e-5, atol: Float = 1e-6,
                        _ message: String = "", file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.count, b.count, "count differs \(message)", file: file, line: line)
    var worst = -1
    var worstExcess: Float = 0
    for i in 0..<min(a.count, b.count) {
        let excess = abs(a[i] - b[i]) - (atol + rtol * abs(b[i]))
        if !(excess <= 0) && (worst < 0 || !(excess <= worstExcess)) { worst = i; worstExcess = excess }
    }
    if worst >= 0 {
        XCTFail("\(message) element \(worst): \(a[worst]) vs \(b[worst]) (rtol \(rtol), atol \(atol))",
                file: file, line: line)
    }
}

/// Central finite differences of `loss` with respect to each of `count` floats at `x`, computed
/// by perturbing them one at a time.
public func numericGradient(at x: UnsafeMutablePointer<Float>, count: Int, eps: Float = 1e-2,
                            _ loss: () -> Double) -> [Float] {
    var g = [Float](repeating: 0, count: count)
    for i in 0..<count {
        let saved = x[i]
        x[i] = saved + eps
        let up = loss()
        x[i] = saved - eps
        let down = loss()
        x[i] = saved
        g[i] = Float((up - down) / Double(2 * eps))
    }
    return g
}

/// Compares an analytic gradient with finite differences: the relative error
/// `|a - n| / max(|a| + |n|, floor)` of every element must stay below `tolerance`.
public func assertGradientMatches(_ analytic: [Float], _ numeric: [Float], tolerance: Float = 2e-2,
                                  floor: Float = 1e-2, _ message: String = "",
                                  file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(analytic.count, numeric.count, file: file, line: line)
    for i in 0..<min(analytic.count, numeric.count) {
        let err = abs(analytic[i] - numeric[i]) / max(abs(analytic[i]) + abs(numeric[i]), floor)
        if !(err < tolerance) {
            XCTFail("\(message) gradient element \(i): analytic \(analytic[i]) vs numeric \(numeric[i])",
                    file: file, line: line)
            return
        }
    }
}

/// A tensor of the given shape filled from a seeded normal stream.
public func randomTensor(_ shape: [Int], seed: UInt64, scale: Float = 1) -> Tensor {
    let t = Tensor(zeros: shape)
    var rng = RandomStream(seed: seed, index: 7)
    for i in 0..<t.count { t[i] = scale * rng.normal() }
    return t
}

/// A JSON fixture written by one of the reference scripts in `scripts/`.
public func loadFixture(_ url: URL?) throws -> [String: Any] {
    guard let url else { throw NSError(domain: "fixture not bundled", code: 1) }
    let data = try Data(contentsOf: url)
    guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
        throw NSError(domain: "fixture is not a JSON object", code: 2)
    }
    return object
}

/// A flat `[Float]` from a JSON array of numbers (nested arrays are flattened row-major).
public func floats(_ any: Any?) -> [Float] {
    if let n = any as? NSNumber { return [n.floatValue] }
    if let a = any as? [Any] { return a.flatMap { floats($0) } }
    return []
}
