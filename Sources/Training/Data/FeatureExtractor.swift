import Distributed
import Images
import NN
import Tensors

/// Pooled encoder features of a whole dataset, in the dataset's order, with the encoder in evaluation
/// mode (running BatchNorm statistics, nothing updated): what k-NN, linear probes and exported
/// embeddings are computed from.
public enum FeatureExtractor {
    /// features: [N, F] and the labels of the N images (-1 where unlabelled). Under several ranks each
    /// rank encodes its share (`batchSize` images at a time) and every rank receives all of them.
    public static func features(of dataset: ImageDataset, encoder: ResNet, transform: ViewTransform,
                                batchSize: Int = 256, workers: Int = 1,
                                communicator: Communicator = SingleProcessCommunicator()) throws -> (features: Tensor, labels: [Int]) {
        let outputs = try ClassifierInference(dataset: dataset, transform: transform, comm: communicator,
                                              batchSize: batchSize, workers: workers)
            .run(encoder: encoder, head: nil, features: true)
        guard let features = outputs.features else { preconditionFailure("FeatureExtractor: a pass without features") }
        return (features, outputs.labels)
    }
}
