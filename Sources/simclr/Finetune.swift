import ArgumentParser
import Foundation
import Images
import Training

struct Finetune: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "finetune",
        abstract: "Train a classifier on labelled data: fine-tune an encoder (full) or fit a head on a frozen one (linear).",
        discussion: """
        The validation split (--val-fraction of every class of the training data) drives the learning-rate \
        scheduler and picks the best checkpoint; the test split (the data's own, --test-data, or a held-out \
        --test-fraction when there is none) is used once, at the end, with that checkpoint. Input size and \
        normalisation come from the weights' metadata unless --image-size / --normalize are given. \
        Under mpirun every rank takes an equal share of each batch (linear mode without augmentation computes \
        the features across ranks and then trains the head on every rank alike).
        """)

    @OptionGroup var dataOptions: DataOptions

    @Option(help: "Test data (its test split if it has one, else all of it); default: --data's test split.")
    var testData: String?

    @Option(help: "full (the encoder trains too) or linear (frozen encoder in evaluation mode, head only).")
    var mode: String

    @Option(help: "Pretrained encoder (encoder.safetensors, a checkpoint, or a torchvision-named file).")
    var weights: String?

    @Option(name: .customLong("init"), help: "random: start from random weights (with --mode full the supervised baseline; with --mode linear the frozen random-encoder baseline).")
    var initialization: String?

    @Option(help: "resnet18, resnet34 or resnet50 (with --init random; with --weights read from the file, so only a check).")
    var arch: String?
    @Option(help: "Width multiplier (with --init random, default 1; with --weights only a check).")
    var width: Double?
    @Option(help: "auto, imagenet or cifar (with --init random; with --weights only a check).")
    var stem: String?
    @Option(help: "Input side; default: the weights' (pretraining's; 224 for the ImageNet stem, 32 for the CIFAR stem of a file without metadata), with --init random the data's own up to 64 px, else 224.")
    var imageSize: Int?
    @Option(help: "Input normalisation (auto = the data's own statistics, none, imagenet, MEAN/STD); default: the weights' (pretraining's; required for a file without metadata), with --init random auto.")
    var normalize: String?

    @Option(help: "linear (fc) or mlp (fc.0, ReLU, fc.2).")
    var head = "linear"
    @Option(help: "Hidden width of the mlp head (default 512).")
    var headHidden: Int?

    @Option(help: "adam, sgd (momentum 0.9) or lbfgs (logistic regression on cached features: linear mode, --augment none).")
    var optimizer = "adam"
    @Option(help: "Learning rate; default adam 1e-3 (1e-4 when fine-tuning pretrained weights in full), sgd 0.1 linear / 0.01 full.")
    var lr: Float?
    @Option(help: "Weight decay (weights only, not biases or BatchNorm); for lbfgs the L2 strength on the mean loss. Default 0, lbfgs 1e-4.")
    var weightDecay: Float?
    @Option(help: "Images per step over all ranks.")
    var batchSize = 64
    @Option(help: "Epochs.")
    var epochs = 10
    @Option(help: "plateau (ReduceLROnPlateau on the validation loss), cosine or none.")
    var scheduler = "plateau"
    @Option(help: "Epochs without improvement of the validation loss before the plateau scheduler lowers the rate.")
    var patience = 3
    @Option(help: "Factor the plateau scheduler multiplies the rate by.")
    var factor = 0.1
    @Option(help: "Share of each class of the training data kept for validation.")
    var valFraction = 0.1
    @Option(help: "Share of each class held out for testing when the data has no test split and no --test-data.")
    var testFraction = 0.2
    @Option(help: "Share of each class's training labels to train on (e.g. 0.01, 0.1); validation is taken first.")
    var labelFraction = 1.0
    @Option(help: "none (resize and centre crop) or light (random resized crop 0.5-1 and flip); default none for linear, light for full.")
    var augment: String?
    @Option(help: "Run folder.")
    var out: String
    @Flag(help: "Continue the run in --out from its last checkpoint.")
    var resume = false

    @OptionGroup var runtime: RuntimeOptions

    func validate() throws {
        guard ["full", "linear"].contains(mode) else { throw ValidationError("--mode takes full or linear, not '\(mode)'") }
        switch (weights, initialization) {
        case (nil, nil): throw ValidationError("give --weights FILE (a pretrained encoder) or --init random")
        case (.some, .some): throw ValidationError("--weights and --init random exclude each other")
        case (nil, .some(let value)) where value != "random":
            throw ValidationError("--init takes random (pretrained weights come with --weights)")
        default: break
        }
        if let weights, !FileManager.default.fileExists(atPath: weights) {
            throw ValidationError("--weights \(weights) does not exist")
        }
        if let testData, !FileManager.default.fileExists(atPath: testData) {
            throw ValidationError("--test-data \(testData) does not exist")
        }
        try validateModelOptions(arch: arch, width: width, stem: stem, imageSize: imageSize)
        guard ["linear", "mlp"].contains(head) else { throw ValidationError("--head takes linear or mlp, not '\(head)'") }
        if headHidden != nil && head != "mlp" { throw ValidationError("--head-hidden goes with --head mlp") }
        if let headHidden, headHidden <= 0 { throw ValidationError("--head-hidden must be positive") }
        guard ["adam", "sgd", "lbfgs"].contains(optimizer) else {
            throw ValidationError("unknown --optimizer '\(optimizer)' (expected adam, sgd or lbfgs)")
        }
        guard ["plateau", "cosine", "none"].contains(scheduler) else {
            throw ValidationError("--scheduler takes plateau, cosine or none, not '\(scheduler)'")
        }
        if let augment, !["none", "light"].contains(augment) {
            throw ValidationError("--augment takes none or light, not '\(augment)'")
        }
        if let lr, !(lr > 0) { throw ValidationError("--lr must be positive") }
        if let weightDecay, !(weightDecay >= 0) { throw ValidationError("--weight-decay must not be negative") }
        guard batchSize > 0, epochs > 0 else { throw ValidationError("--batch-size and --epochs must be positive") }
        guard patience >= 0 else { throw ValidationError("--patience must not be negative") }
        guard factor > 0, factor < 1 else { throw ValidationError("--factor must be in (0, 1)") }
        guard valFraction > 0, valFraction < 1 else { throw ValidationError("--val-fraction must be in (0, 1)") }
        guard testFraction > 0, testFraction < 1 else { throw ValidationError("--test-fraction must be in (0, 1)") }
        guard labelFraction > 0, labelFraction <= 1 else { throw ValidationError("--label-fraction must be in (0, 1]") }
        // What FineTuneConfig.validate checks too, said here before any data is read.
        if optimizer == "lbfgs" && (mode != "linear" || (augment ?? "none") != "none" || head != "linear") {
            throw ValidationError("--optimizer lbfgs needs --mode linear, --augment none and --head linear")
        }
    }

    func run() throws {
        try runJob { comm in
            func absolute(_ path: String?) -> String? { path.map { URL(fileURLWithPath: $0).standardizedFileURL.path } }
            let request = ModelRequest(arch: arch, width: width, stem: stem, imageSize: imageSize, normalize: normalize)
            let (model, source, messages) = try request.resolve(weights: weights, data: dataOptions.data,
                                                                format: dataOptions.datasetFormat)
            if comm.rank == 0 { for line in messages { writeError(line + "\n") } }
            let config = FineTuneConfig(
                data: absolute(dataOptions.data), testData: absolute(testData), format: dataOptions.format,
                mode: mode, weights: absolute(weights), model: model, modelSource: source, head: head,
                headHidden: headHidden, optimizer: optimizer, lr: lr, weightDecay: weightDecay, batchSize: batchSize,
                epochs: epochs, scheduler: scheduler, patience: patience, factor: factor, valFraction: valFraction,
                testFraction: testFraction, labelFraction: labelFraction, augment: augment, seed: runtime.seed, out: out)
            let stop = StopSignal()
            let tuner = FineTuner(config: config, communicator: comm, resume: resume, threads: runtime.resolvedThreads,
                                  workers: runtime.workers, bucketFloats: runtime.allReduce.bucketFloats)
            let summary = try tuner.run(stop: stop)
            if comm.rank == 0 {
                print(summary.test.report.text(digits: ClassifierResult.digits), terminator: "")
                print(String(format: "test accuracy %.4f  top-5 %.4f  mean per-class %.4f  (best epoch %d, validation accuracy %.4f)",
                             summary.test.accuracy, summary.test.top5Accuracy, summary.test.meanPerClassAccuracy,
                             summary.bestEpoch, summary.bestValAccuracy))
                if summary.skippedImages > 0 { writeError("simclr: \(summary.skippedImages) unreadable image(s) skipped\n") }
            }
        }
    }
}
