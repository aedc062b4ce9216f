/// Per-channel input normalisation `(x - mean) / std`, applied to pixels in [0, 1].
public struct Normalization: Codable, Equatable, Sendable {
    public var mean: [Float]
    public var std: [Float]

    /// One value (used for every channel) or one per channel.
    public init(mean: [Float], std: [Float]) {
        precondition(!mean.isEmpty && mean.count == std.count, "Normalization: \(mean.count) means, \(std.count) stds")
        precondition(std.allSatisfy { $0 > 0 }, "Normalization: std must be positive, got \(std)")
        self.mean = mean
        self.std = std
    }

    /// Pixels stay in [0, 1].
    public static let none = Normalization(mean: [0], std: [1])
    /// torchvision's ImageNet statistics.
    public static let imageNet = Normalization(mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225])

    /// `none`, `imagenet`, or nil.
    public init?(named name: String) {
        switch name.lowercased() {
        case "none": self = .none
        case "imagenet": self = .imageNet
        default: return nil
        }
    }

    /// Mean and 1/std for `channels` channels. One value is broadcast; three values on a gray image
    /// are combined with the luma weights (the statistics of the gray image of an RGB set).
    public func resolved(channels: Int) -> (mean: [Float], invStd: [Float]) {
        if mean.count == channels { return (mean, std.map { 1 / $0 }) }
        if mean.count == 1 { return (Array(repeating: mean[0], count: channels), Array(repeating: 1 / std[0], count: channels)) }
        precondition(mean.count == 3 && channels == 1,
                     "Normalization: \(mean.count) values for \(channels) channels")
        let w = ColorAdjust.grayWeights
        let m = w.r * mean[0] + w.g * mean[1] + w.b * mean[2]
        let s = w.r * std[0] + w.g * std[1] + w.b * std[2]
        return ([m], [1 / s])
    }

    /// x = (x - mean) / std in place, `x: [pixels, channels]`.
    public func apply(_ x: UnsafeMutablePointer<Float>, pixels: Int, channels: Int) {
        let (m, s) = resolved(channels: channels)
        if m.allSatisfy({ $0 == 0 }) && s.allSatisfy({ $0 == 1 }) { return }
        if channels == 1 {
            let m0 = m[0], s0 = s[0]
            for i in 0..<pixels { x[i] = (x[i] - m0) * s0 }
            return
        }
        let m0 = m[0], m1 = m[1], m2 = m[2], s0 = s[0], s1 = s[1], s2 = s[2]
        for p in 0..<pixels {
            let q = x + 3 * p
            q[0] = (q[0] - m0) * s0
            q[1] = (q[1] - m1) * s1
            q[2] = (q[2] - m2) * s2
        }
    }
}
