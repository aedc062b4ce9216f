import Foundation
import Tensors

/// Procedural labelled images that need no files: each class is a shape (disc, square, triangle,
/// ring, cross, diamond) in a colour of its own, striped for classes beyond the first six, drawn at
/// a random place, size and angle over a random gradient with noise. Any size and channel count;
/// every image is a function of (seed, split, index). Labels cycle through the classes, so classes
/// are balanced. The default dataset when no data is given.
public final class SyntheticDataset: ImageDataset {
    public let name: String
    public let count: Int
    public let classes: Int
    public let size: Int
    public let channels: Int
    public let seed: UInt64
    public let split: DatasetSplit
    public let skipLog = SkipLog()

    static let shapeNames = ["disc", "square", "triangle", "ring", "cross", "diamond"]

    public init(count: Int = 2048, classes: Int = 10, size: Int = 32, channels: Int = 3, seed: UInt64 = 0,
                split: DatasetSplit = .train) {
        precondition(count > 0 && classes > 0 && size >= 4, "SyntheticDataset: count \(count), classes \(classes), size \(size)")
        precondition(channels == 1 || channels == 3, "SyntheticDataset: \(channels) channels")
        self.count = count
        self.classes = classes
        self.size = size
        self.channels = channels
        self.seed = seed
        self.split = split
        name = "synthetic \(classes) classes, \(count) images \(size)x\(size)x\(channels) (\(split.rawValue), seed \(seed))"
    }

    public var classNames: [String] {
        (0..<classes).map { k in
            let hue = Int((Self.classHue(k) * 360).rounded())
            return "\(Self.shapeNames[k % 6])\(k / 6 % 2 == 1 ? " striped" : "") hue \(hue)"
        }
    }

    public var isInMemory: Bool { true }
    public func label(at index: Int) -> Int { index % classes }
    public func source(at index: Int) -> String { "synthetic#\(split.rawValue)/\(index)" }

    /// Golden-ratio spaced hues keep neighbouring classes apart.
    static func classHue(_ k: Int) -> Float {
        let h = Float(k) * 0.618_034
        return h - h.rounded(.down)
    }

    public func image(at index: Int, minimumSide: Int) throws -> Image {
        precondition((0..<count).contains(index), "SyntheticDataset: index \(index) outside 0..<\(count)")
        return render(index: index, width: size, height: size)
    }

    /// Sample `index` drawn at any size (the benchmark's stand-in for photos).
    func render(index: Int, width: Int, height: Int) -> Image {
        let k = label(at: index)
        var random = RandomStream(seed: seed, epoch: split == .train ? 0x7a11 : 0x7e57, index: index)
        let background = (random.uniform(0.1, 0.6), random.uniform(0.1, 0.6), random.uniform(0.1, 0.6))
        let gradientAngle = random.uniform(0, 2 * Float.pi)
        let foreground = Self.rgb(hue: Self.classHue(k), saturation: random.uniform(0.7, 1), value: random.uniform(0.75, 1))
        let cx = random.uniform(0.3, 0.7), cy = random.uniform(0.3, 0.7)
        let radius = random.uniform(0.15, 0.3), angle = random.uniform(0, 2 * Float.pi)
        let striped = k / 6 % 2 == 1, stripePeriod = random.uniform(0.06, 0.1)
        let (ca, sa) = (cosf(angle), sinf(angle)), (cg, sg) = (cosf(gradientAngle), sinf(gradientAngle))
        var rgb = [UInt8](repeating: 0, count: width * height * 3)
        let side = Float(min(width, height))
        for y in 0..<height {
            for x in 0..<width {
                let u = (Float(x) + 0.5) / side - cx, v = (Float(y) + 0.5) / side - cy
                let rx = ca * u + sa * v, ry = -sa * u + ca * v
                var inside = Self.inside(shape: k % 6, rx, ry, radius)
                if inside && striped { inside = Int(((rx + 1) / stripePeriod).rounded(.down)) % 2 == 0 }
                let shade = 0.25 * (cg * u + sg * v)
                let noise = 0.04 * random.normal()
                let colour = inside ? foreground : (background.0 + shade, background.1 + shade, background.2 + shade)
                let o = (y * width + x) * 3
                rgb[o] = Self.byte(colour.0 + noise)
                rgb[o + 1] = Self.byte(colour.1 + noise)
                rgb[o + 2] = Self.byte(colour.2 + noise)
            }
        }
        let image = Image(width: width, height: height, channels: 3, pixels: rgb)
        return channels == 3 ? image : image.converted(toChannels: 1)
    }

    static func inside(shape: Int, _ x: Float, _ y: Float, _ r: Float) -> Bool {
        switch shape {
        case 0: return x * x + y * y < r * r
        case 1: return abs(x) < 0.8 * r && abs(y) < 0.8 * r
        case 2: return y < 0.5 * r && y > -r + 1.732 * abs(x)
        case 3: let d = x * x + y * y; return d < r * r && d > 0.36 * r * r
        case 4: return (abs(x) < 0.3 * r && abs(y) < r) || (abs(y) < 0.3 * r && abs(x) < r)
        default: return abs(x) + abs(y) < r
        }
    }

    static func byte(_ v: Float) -> UInt8 { UInt8(min(max(v * 255, 0), 255).rounded()) }

    static func rgb(hue: Float, saturation: Float, value: Float) -> (Float, Float, Float) {
        let h6 = hue * 6, sector = h6.rounded(.down), f = h6 - sector
        let p = value * (1 - saturation), q = value * (1 - saturation * f), t = value * (1 - saturation * (1 - f))
        switch Int(sector) % 6 {
        case 0: return (value, t, p)
        case 1: return (q, value, p)
        case 2: return (p, value, t)
        case 3: return (p, q, value)
        case 4: return (t, p, value)
        default: return (value, p, q)
        }
    }
}
