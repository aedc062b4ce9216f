import Images
import Tensors

/// Per-channel mean and standard deviation of a dataset's pixels in [0, 1], from a deterministic
/// sample of its images: the default input normalisation, saved with the model so that every later
/// use of the encoder normalises the same way.
public enum DatasetStatistics {
    public static func meanStd(of dataset: ImageDataset, samples: Int = 2000, seed: UInt64 = 0) -> Normalization {
        let c = dataset.channels
        var sum = [Double](repeating: 0, count: c), sumSquares = [Double](repeating: 0, count: c)
        var pixels = 0.0
        var rng = RandomStream(seed: seed, epoch: -2)
        let picks = dataset.count <= samples ? Array(0..<dataset.count)
            : Array(rng.permutation(dataset.count).prefix(samples))
        for i in picks {
            guard let image = try? dataset.image(at: i, minimumSide: 64) else { continue }
            image.pixels.withUnsafeBufferPointer { p in
                for j in 0..<image.width * image.height {
                    for k in 0..<c {
                        let v = Double(p[j * c + k]) / 255
                        sum[k] += v
                        sumSquares[k] += v * v
                    }
                }
            }
            pixels += Double(image.width * image.height)
        }
        guard pixels > 0 else { return .none }
        let mean = sum.map { $0 / pixels }
        let std = zip(sumSquares, mean).map { (max($0 / pixels - $1 * $1, 1e-6)).squareRoot() }
        return Normalization(mean: mean.map(Float.init), std: std.map(Float.init))
    }
}
