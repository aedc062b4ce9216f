import Images

/// The defaults a run resolves when an option is left out, for pretraining and fine-tuning alike:
/// SimCLR's values for large images, and the values chosen on small ones where they differ
/// (`scripts/study.sh` reruns that choice).
public enum RunDefaults {
    /// Images of this side or less count as small.
    public static let smallImageSide = 64

    /// Pretraining's peak rate: 1e-3 for adam(w); for lars and sgd SimCLR's square-root rule
    /// (0.075 sqrt(batch), 1.2 at 256) on small images, where runs are short, and its linear rule
    /// (0.3 batch/256) on large ones.
    public static func pretrainLearningRate(optimizer: PretrainOptimizer, batchSize: Int, imageSize: Int) -> Float {
        switch optimizer {
        case .adam, .adamw: return 1e-3
        case .lars, .sgd:
            return imageSize <= smallImageSide ? 0.075 * Float(batchSize).squareRoot() : 0.3 * Float(batchSize) / 256
        }
    }

    /// NT-Xent's temperature: 0.2 on small images, SimCLR's 0.1 on large ones.
    public static func temperature(imageSize: Int) -> Float {
        imageSize <= smallImageSide ? 0.2 : 0.1
    }

    /// The smallest area of a random resized crop: 0.3 for images of 32 px or less (whose objects
    /// fill the frame), SimCLR's 0.08 above.
    public static func cropScale(imageSize: Int) -> Float {
        imageSize <= 32 ? 0.3 : 0.08
    }

    /// Colour-jitter strength: SimCLR's 1 at every size.
    public static let jitterStrength: Float = 1

    /// Linear warm-up before the cosine decay: a tenth of the run, at most 10 epochs.
    public static func warmupEpochs(epochs: Int) -> Double {
        min(10, Double(epochs) / 10)
    }

    /// Fine-tuning's rate: adam 1e-3, or 1e-4 when fine-tuning pretrained weights in full; sgd 0.1
    /// for a linear head, 0.01 in full; lbfgs has no learning rate (1 is recorded).
    public static func fineTuneLearningRate(optimizer: FineTuneOptimizer, mode: FineTuneMode, pretrained: Bool) -> Float {
        switch optimizer {
        case .sgd: return mode == .linear ? 0.1 : 0.01
        case .lbfgs: return 1
        case .adam: return mode == .full && pretrained ? 1e-4 : 1e-3
        }
    }

    /// Fine-tuning's weight decay: none for adam and sgd; the L2 strength 1e-4 for lbfgs.
    public static func fineTuneWeightDecay(optimizer: FineTuneOptimizer) -> Float {
        optimizer == .lbfgs ? 1e-4 : 0
    }

    /// Fine-tuning's training view: the evaluation view for a frozen encoder, light in full.
    public static func fineTuneAugment(mode: FineTuneMode) -> FineTuneAugment {
        mode == .linear ? .evaluationView : .light
    }

    /// Hidden width of fine-tuning's mlp head.
    public static let headHidden = 512

    /// torchvision-style light training augmentation: RandomResizedCrop (area 0.5–1, aspect 3/4–4/3)
    /// and a horizontal flip; colour jitter, grayscale and blur off.
    public static func lightAugmentation(size: Int, normalization: Normalization) -> SimCLRAugmentation {
        var a = SimCLRAugmentation(size: size, strength: 0, normalization: normalization)
        a.cropScale = 0.5...1
        a.jitterProbability = 0
        a.grayscaleProbability = 0
        a.blurProbability = 0
        a.solarizeProbability = 0
        return a
    }
}
