import Formats
import Foundation

/// Series and class colours: matplotlib's ten "tab10" colours, which readers of ML plots know, and
/// for more classes (37 pet breeds) evenly spaced hues at alternating lightness.
enum ChartPalette {
    static let tab10 = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                        "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]

    /// The colour of item `index` out of `count`.
    static func color(_ index: Int, of count: Int) -> String {
        if count <= tab10.count { return tab10[index % tab10.count] }
        let hue = Double(index) / Double(count) * 360
        let lightness = index % 2 == 0 ? 0.42 : 0.6
        return hsl(hue: hue, saturation: 0.65, lightness: lightness)
    }

    /// `#rrggbb` of an HSL colour (hue in degrees, the others in 0...1).
    static func hsl(hue: Double, saturation: Double, lightness: Double) -> String {
        let c = (1 - abs(2 * lightness - 1)) * saturation
        let h = hue / 60
        let x = c * (1 - abs(h.truncatingRemainder(dividingBy: 2) - 1))
        let (r, g, b): (Double, Double, Double)
        switch h {
        case ..<1: (r, g, b) = (c, x, 0)
        case ..<2: (r, g, b) = (x, c, 0)
        case ..<3: (r, g, b) = (0, c, x)
        case ..<4: (r, g, b) = (0, x, c)
        case ..<5: (r, g, b) = (x, 0, c)
        default: (r, g, b) = (c, 0, x)
        }
        let m = lightness - c / 2
        return hex(r + m, g + m, b + m)
    }

    /// `#rrggbb` of components in 0...1.
    static func hex(_ r: Double, _ g: Double, _ b: Double) -> String {
        func byte(_ v: Double) -> String {
            String(Int((min(max(v, 0), 1) * 255).rounded()), radix: 16).leftPadded(to: 2, with: "0")
        }
        return "#" + byte(r) + byte(g) + byte(b)
    }
}
