import Foundation

/// Maps data values to pixels along one axis and chooses readable tick positions and labels:
/// multiples of 1, 2 or 5 times a power of ten on a linear axis, decades (and 2x, 5x when the
/// range is narrow) on a logarithmic one.
struct ChartScale {
    let lower: Double
    let upper: Double
    let logarithmic: Bool
    let ticks: [Double]
    private let pixelLower: Double
    private let pixelUpper: Double
    private let tickDecimals: Int

    /// A scale covering `values` (non-finite ones ignored; on a log scale, non-positive ones too)
    /// mapped onto `pixels` (which may run downwards, as a y axis does). `includeZero` keeps 0 on a
    /// linear axis (bar charts).
    init(values: [Double], pixels: ClosedRange<Double>, flipped: Bool, logarithmic: Bool = false,
         includeZero: Bool = false, tickCount: Int = 6) {
        let usable = values.filter { $0.isFinite && (!logarithmic || $0 > 0) }
        var lo = usable.min() ?? (logarithmic ? 0.1 : 0)
        var hi = usable.max() ?? (logarithmic ? 10 : 1)
        self.logarithmic = logarithmic
        (pixelLower, pixelUpper) = flipped ? (pixels.upperBound, pixels.lowerBound) : (pixels.lowerBound, pixels.upperBound)
        if logarithmic {
            var e0 = floor(log10(lo)), e1 = ceil(log10(hi))
            if e0 == e1 { e0 -= 1; e1 += 1 }
            lower = pow(10, e0)
            upper = pow(10, e1)
            var marks: [Double] = []
            let multiples: [Double] = e1 - e0 <= 2 ? [1, 2, 5] : [1]
            for e in stride(from: e0, through: e1, by: 1) {
                for m in multiples where m * pow(10, e) <= upper * (1 + 1e-9) { marks.append(m * pow(10, e)) }
            }
            ticks = marks
            tickDecimals = 0
            return
        }
        if includeZero { lo = min(lo, 0); hi = max(hi, 0) }
        if hi - lo <= abs(hi) * 1e-12 {
            let pad = hi == 0 ? 1 : abs(hi) * 0.1
            lo -= pad
            hi += pad
        }
        let step = Self.niceStep((hi - lo) / Double(max(tickCount - 1, 1)))
        lower = floor(lo / step + 1e-9) * step
        upper = ceil(hi / step - 1e-9) * step
        var marks: [Double] = []
        var i = 0
        while true {
            let v = lower + Double(i) * step
            if v > upper + step * 1e-9 { break }
            marks.append(abs(v) < step * 1e-9 ? 0 : v)
            i += 1
        }
        ticks = marks
        tickDecimals = max(0, min(12, -Int(floor(log10(step) + 1e-9))))
    }

    /// The multiple of 1, 2, 5 or 10 times a power of ten nearest to `rough` (so the axis gets
    /// between about two thirds and one and a half times the ticks asked for).
    static func niceStep(_ rough: Double) -> Double {
        let magnitude = pow(10, floor(log10(rough)))
        let residual = rough / magnitude
        let factor: Double = residual < 1.5 ? 1 : residual < 3 ? 2 : residual < 7 ? 5 : 10
        return factor * magnitude
    }

    /// The pixel coordinate of `value` (clamped to the axis).
    func pixel(_ value: Double) -> Double {
        let t: Double
        if logarithmic {
            t = (log10(max(value, lower)) - log10(lower)) / (log10(upper) - log10(lower))
        } else {
            t = (value - lower) / (upper - lower)
        }
        return pixelLower + min(max(t, 0), 1) * (pixelUpper - pixelLower)
    }

    /// A tick's label: as many decimals as the tick step needs on a linear axis; on a log axis
    /// (or for huge values) plain numbers from 0.001 to 99999 and `2e-5` style beyond.
    func label(_ value: Double) -> String {
        let magnitude = abs(value)
        guard logarithmic || magnitude >= 1e6 else { return String(format: "%.\(tickDecimals)f", value) }
        if magnitude == 0 || (magnitude >= 1e-3 && magnitude < 1e5) { return String(format: "%g", value) }
        return String(format: "%.0e", value)
            .replacingOccurrences(of: "e+0", with: "e+").replacingOccurrences(of: "e-0", with: "e-")
    }
}
