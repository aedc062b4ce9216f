import Foundation
import Images
import Probes
import Tensors

/// The baseline every learned representation must beat: multinomial logistic regression (L-BFGS,
/// standardised inputs) on the raw pixels.
public enum RawPixelBaseline {
    /// Test accuracy of a logistic regression fitted on the train split's pixels.
    public static func accuracy(data: String?, format: DatasetFormat, l2: Double = 1e-4) throws -> Double {
        let train = try openDataset(path: data, format: format, split: .train)
        let test = try openDataset(path: data, format: format, split: .test)
        let (xTrain, yTrain) = try pixels(of: train)
        let (xTest, yTest) = try pixels(of: test)
        let model = try LogisticRegression(regularization: .weightDecay(l2), standardize: true)
        try model.fit(features: xTrain, labels: yTrain, classes: train.classNames.count)
        return try model.score(features: xTest, labels: yTest)
    }

    /// x: [N, H·W·C] pixels in [0, 1], and the labels.
    static func pixels(of dataset: ImageDataset) throws -> (Tensor, [Int]) {
        let first = try dataset.image(at: 0)
        let d = first.width * first.height * first.channels
        let x = Tensor(zeros: [dataset.count, d])
        var labels: [Int] = []
        labels.reserveCapacity(dataset.count)
        for i in 0..<dataset.count {
            let image = try dataset.image(at: i)
            guard image.pixels.count == d else {
                throw TrainingError.invalidOption("the raw-pixel baseline needs images of one size; image \(i) differs")
            }
            let row = x.data + i * d
            for j in 0..<d { row[j] = Float(image.pixels[j]) / 255 }
            labels.append(dataset.label(at: i))
        }
        return (x, labels)
    }
}
