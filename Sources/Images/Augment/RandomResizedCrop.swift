import Foundation
import Tensors

/// torchvision's RandomResizedCrop box: area fraction uniform in `scale`, aspect ratio log-uniform
/// in `ratio`, 10 tries, then the centre crop clamped to the ratio range.
public enum RandomResizedCrop {
    /// An integer box (top, left, height, width) inside a `width x height` image.
    public static func box(width: Int, height: Int, scale: ClosedRange<Float>, ratio: ClosedRange<Float>,
                           random: inout RandomStream) -> (top: Int, left: Int, height: Int, width: Int) {
        let area = Float(width * height)
        let logLo = logf(ratio.lowerBound), logHi = logf(ratio.upperBound)
        for _ in 0..<10 {
            let target = area * random.uniform(scale.lowerBound, scale.upperBound)
            let aspect = expf(random.uniform(logLo, logHi))
            let w = Int((target * aspect).squareRoot().rounded(.toNearestOrEven))
            let h = Int((target / aspect).squareRoot().rounded(.toNearestOrEven))
            if w > 0 && w <= width && h > 0 && h <= height {
                let top = random.below(height - h + 1)
                let left = random.below(width - w + 1)
                return (top, left, h, w)
            }
        }
        let inRatio = Float(width) / Float(height)
        var w = width, h = height
        if inRatio < ratio.lowerBound {
            h = Int((Float(w) / ratio.lowerBound).rounded(.toNearestOrEven))
        } else if inRatio > ratio.upperBound {
            w = Int((Float(h) * ratio.upperBound).rounded(.toNearestOrEven))
        }
        return ((height - h) / 2, (width - w) / 2, h, w)
    }
}
