import Foundation
import Images
import NN

/// Every setting of a fine-tuning or linear-evaluation run, resolved (no `auto` left), saved as the
/// run's `config.json` and in every checkpoint's metadata.
///
/// The model's input size and normalisation come from the pretrained weights' metadata unless the
/// command line overrode them (`modelSource` says which), so evaluation normalises as pretraining did.
public struct FineTuneConfig: Codable, Equatable {
    public var command = "finetune"
    public var version = 1
    /// Training data path; nil for the built-in synthetic set.
    public var data: String?
    /// Separate test data (its test split when it has one, else all of it); nil: `data`'s own test
    /// split, or a held-out part of the training data when it has none.
    public var testData: String?
    public var format: String
    /// How datasets are opened (input channels follow the model; synthetic-set sizes).
    public var datasetOptions: DatasetOptions
    /// `full` (everything trains) or `linear` (frozen encoder, head only).
    public var mode: String
    /// The encoder's weights file; nil with random initialisation.
    public var weights: String?
    public var model: ModelSpec
    /// Where `model`'s settings came from, for the record (e.g. "weights metadata").
    public var modelSource: String
    /// `linear` (torchvision's `fc`) or `mlp` (`fc.0`, ReLU, `fc.2`).
    public var head: String
    /// Hidden width of the `mlp` head.
    public var headHidden: Int?
    /// `adam`, `sgd` (momentum 0.9) or `lbfgs` (linear mode on cached features: logistic regression,
    /// one fit: `epochs` 1 and `scheduler` none).
    public var optimizer: String
    public var lr: Float
    /// Weight decay of adam/sgd (weights only, not biases or BatchNorm); for lbfgs the L2 strength λ
    /// on the mean loss.
    public var weightDecay: Float
    /// Images per step over all ranks.
    public var batchSize: Int
    public var epochs: Int
    /// `plateau` (ReduceLROnPlateau on the validation loss), `cosine` (per step, no warm-up) or `none`.
    public var scheduler: String
    public var patience: Int
    public var factor: Double
    /// Share of each class of the training data held out for validation (scheduler, best checkpoint).
    public var valFraction: Double
    /// Share of each class held out for testing when the data has no test split and no `testData`.
    public var testFraction: Double
    /// Share of each class's training labels used (SimCLR's 1% / 10% protocol); 1: all.
    public var labelFraction: Double
    /// `none` (evaluation view: resize and centre crop) or `light` (random resized crop and flip).
    public var augment: String
    /// The `light` pipeline (no colour changes); nil for `none`.
    public var augmentation: SimCLRAugmentation?
    /// Linear mode without augmentation: features are computed once and the head trains on them.
    public var cacheFeatures: Bool
    public var seed: UInt64
    public var out: String

    public init(data: String?, testData: String? = nil, format: String = "auto",
                datasetOptions: DatasetOptions = DatasetOptions(), mode: String, weights: String?, model: ModelSpec,
                modelSource: String = "command line", head: String = "linear", headHidden: Int? = nil,
                optimizer: String = "adam", lr: Float? = nil, weightDecay: Float? = nil, batchSize: Int = 64,
                epochs: Int = 10, scheduler: String = "plateau", patience: Int = 3, factor: Double = 0.1,
                valFraction: Double = 0.1, testFraction: Double = 0.2, labelFraction: Double = 1,
                augment: String? = nil, seed: UInt64 = 0, out: String) {
        self.data = data; self.testData = testData; self.format = format
        self.datasetOptions = datasetOptions
        self.datasetOptions.channels = model.inputChannels
        self.mode = mode; self.weights = weights; self.model = model; self.modelSource = modelSource
        self.head = head; self.headHidden = head == "mlp" ? (headHidden ?? 512) : nil
        self.optimizer = optimizer
        self.lr = lr ?? Self.defaultLR(optimizer: optimizer, mode: mode, pretrained: weights != nil)
        self.weightDecay = weightDecay ?? (optimizer == "lbfgs" ? 1e-4 : 0)
        // An L-BFGS fit is one pass to convergence: no epochs, no schedule.
        self.batchSize = batchSize; self.epochs = optimizer == "lbfgs" ? 1 : epochs
        self.scheduler = optimizer == "lbfgs" ? "none" : scheduler; self.patience = patience; self.factor = factor
        self.valFraction = valFraction; self.testFraction = testFraction; self.labelFraction = labelFraction
        let augment = augment ?? (mode == "linear" ? "none" : "light")
        self.augment = augment
        augmentation = augment == "light" ? Self.lightAugmentation(size: model.imageSize, normalization: model.normalization) : nil
        cacheFeatures = mode == "linear" && augment == "none"
        self.seed = seed; self.out = out
    }

    /// adam: 1e-3, or 1e-4 when fine-tuning pretrained weights in full; sgd: 0.1 for a linear head,
    /// 0.01 in full; lbfgs has no learning rate (1 is recorded).
    public static func defaultLR(optimizer: String, mode: String, pretrained: Bool) -> Float {
        switch optimizer {
        case "sgd": return mode == "linear" ? 0.1 : 0.01
        case "lbfgs": return 1
        default: return mode == "full" && pretrained ? 1e-4 : 1e-3
        }
    }

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

    /// The head as the model builds it.
    public var headKind: ClassifierHead.Kind {
        head == "mlp" ? .mlp(hidden: headHidden ?? 512) : .linear
    }

    /// Settings a resumed run may change without changing its trajectory. The number of epochs may
    /// grow unless the cosine schedule spans it.
    var resumable: Set<String> { scheduler == "cosine" ? ["out"] : ["out", "epochs"] }

    /// Checks what can be checked before any work, for a run on `ranks` processes.
    public func validate(ranks: Int) throws {
        try ModelSpec.checkArchitecture(model.arch)
        guard ["full", "linear"].contains(mode) else {
            throw TrainingError.invalidOption("--mode takes full or linear, not '\(mode)'")
        }
        guard ["linear", "mlp"].contains(head) else {
            throw TrainingError.invalidOption("--head takes linear or mlp, not '\(head)'")
        }
        if let h = headHidden, h <= 0 { throw TrainingError.invalidOption("--head-hidden must be positive") }
        guard ["adam", "sgd", "lbfgs"].contains(optimizer) else {
            throw TrainingError.invalidOption("unknown --optimizer '\(optimizer)' (expected adam, sgd or lbfgs)")
        }
        if optimizer == "lbfgs" {
            guard cacheFeatures, head == "linear" else {
                throw TrainingError.invalidOption(
                    "--optimizer lbfgs fits a logistic regression on cached features: it needs --mode linear, "
                    + "--augment none and --head linear")
            }
        }
        guard ["plateau", "cosine", "none"].contains(scheduler) else {
            throw TrainingError.invalidOption("--scheduler takes plateau, cosine or none, not '\(scheduler)'")
        }
        guard ["none", "light"].contains(augment) else {
            throw TrainingError.invalidOption("--augment takes none or light, not '\(augment)'")
        }
        guard batchSize > 0, epochs > 0 else {
            throw TrainingError.invalidOption("--batch-size and --epochs must be positive")
        }
        guard batchSize % ranks == 0 else {
            throw TrainingError.invalidOption(
                "the global batch \(batchSize) does not divide among \(ranks) ranks; choose a multiple of \(ranks)")
        }
        guard lr > 0, lr.isFinite, weightDecay >= 0, weightDecay.isFinite else {
            throw TrainingError.invalidOption("--lr must be positive and --weight-decay not negative")
        }
        guard patience >= 0, factor > 0, factor < 1 else {
            throw TrainingError.invalidOption("--patience must not be negative and --factor must be in (0, 1)")
        }
        guard valFraction > 0, valFraction < 1 else {
            throw TrainingError.invalidOption("--val-fraction must be in (0, 1): the validation split drives the "
                                              + "scheduler and picks the best checkpoint")
        }
        guard testFraction > 0, testFraction < 1 else {
            throw TrainingError.invalidOption("--test-fraction must be in (0, 1)")
        }
        guard labelFraction > 0, labelFraction <= 1 else {
            throw TrainingError.invalidOption("--label-fraction must be in (0, 1]")
        }
        guard model.imageSize >= 8 else { throw TrainingError.invalidOption("--image-size must be at least 8") }
    }

    /// The names of settings that differ from `other` and would change the run's trajectory.
    func trajectoryDifferences(from other: FineTuneConfig) -> [String] {
        JSONValue.differingFields(self, other, ignoring: resumable)
    }
}
