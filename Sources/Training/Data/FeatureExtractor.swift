import Images
import NN
import Tensors

/// Pooled encoder features of a whole dataset, in the dataset's order, with the encoder in evaluation
/// mode (running BatchNorm statistics, nothing updated): what k-NN, linear probes and exported
/// embeddings are computed from.
public enum FeatureExtractor {
    /// features: [N, F] and the labels of the N images (-1 where unlabelled).
    public static func features(of dataset: ImageDataset, encoder: ResNet, transform: ViewTransform,
                                batchSize: Int = 256, workers: Int = 1) throws -> (features: Tensor, labels: [Int]) {
        let loader = DataLoader(dataset: dataset, transform: transform, batchSize: batchSize, views: 1,
                                shuffle: false, dropLast: false, workers: workers)
        loader.start(epoch: 0)
        let f = encoder.featureDimension
        let out = Tensor(zeros: [dataset.count, f])
        var labels = [Int](repeating: -1, count: dataset.count)
        var row = 0
        while let batch = try loader.next() {
            let n = batch.count
            // The last batch may be partial: view its first n rows.
            let x = n == batch.images.shape[0] ? batch.images
                : Tensor(viewing: batch.images.data, shape: [n] + Array(batch.images.shape.dropFirst()))
            let h = encoder.forward(x, mode: .inference)   // [n, F]
            (out.data + row * f).update(from: h.data, count: n * f)
            for (k, label) in batch.labels.enumerated() { labels[row + k] = label }
            row += n
        }
        precondition(row == dataset.count, "FeatureExtractor: \(row) of \(dataset.count) images seen")
        return (out, labels)
    }
}
