import ArgumentParser
import Distributed
import Formats
import Foundation
import Images
import NN
import Optim
import Probes
import Tensors
import TestSupport
@testable import Training
import XCTest

/// Small fine-tuning and linear-evaluation runs in-process (one rank): a frozen encoder stays
/// bit-identical, the scheduler and the best checkpoint never see the test split, splits are
/// stratified, weights files load (or fail) as they should, training really learns, and the saved
/// classifier reproduces the run's test report.
final class FineTuneTests: XCTestCase {
    var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("finetune-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: folder)
    }

    // MARK: Fixtures

    static let model = ModelSpec(arch: .resnet18, width: 0.0625, stem: .cifar, inputChannels: 3, imageSize: 16,
                                 mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25])

    /// The synthetic set in small: `count` training images (a quarter as many in its test split).
    static func synthetic(count: Int = 96, classes: Int = 4) -> DatasetOptions {
        var options = DatasetOptions()
        options.syntheticCount = count
        options.syntheticClasses = classes
        options.syntheticSize = 16
        options.syntheticSeed = 11
        return options
    }

    func config(_ out: String, mode: FineTuneMode, weights: URL?, data: String? = nil, options: DatasetOptions = synthetic(),
                optimizer: FineTuneOptimizer = .adam, lr: Float? = nil, batch: Int = 16, epochs: Int = 2,
                scheduler: SchedulerChoice = .plateau, patience: Int = 3, factor: Double = 0.1, labelFraction: Double = 1,
                augment: FineTuneAugment? = nil) -> FineTuneConfig {
        FineTuneConfig(data: data, format: data == nil ? .auto : .idx, datasetOptions: options, mode: mode,
                       weights: weights?.path, model: Self.model, modelSource: "test", optimizer: optimizer, lr: lr,
                       batchSize: batch, epochs: epochs, scheduler: scheduler, patience: patience, factor: factor,
                       labelFraction: labelFraction, augment: augment, seed: 4,
                       out: folder.appendingPathComponent(out).path)
    }

    @discardableResult
    func run(_ config: FineTuneConfig, resume: Bool = false, stop: StopSignal? = nil) throws -> FineTuneSummary {
        try FineTuner(config: config, communicator: SingleProcessCommunicator(), resume: resume,
                      settings: RunSettings(threads: 2, workers: 1), stop: stop, log: { _ in }).run()
    }

    /// A "pretrained" encoder file as `simclr pretrain` writes it: a ResNet under torchvision names
    /// with its model spec in the metadata. Its BatchNorm statistics are made non-trivial so a
    /// forward in training mode would visibly move them.
    func encoderFile(_ name: String = "encoder.safetensors", metadata: Bool = true, prefix: String = "",
                     extra: [String: [Int]] = [:], spec: ModelSpec = FineTuneTests.model) throws -> URL {
        let store = ParameterStore()
        let encoder = ResNet(spec.resNetConfig, store: store, kernels: .default)
        store.finalize(seed: 99)
        for (k, bn) in encoder.batchNorms.enumerated() {
            for c in 0..<bn.channels {
                bn.runningMean[c] = 0.01 * Float((k + c) % 7)
                bn.runningVar[c] = 1 + 0.02 * Float((k * 3 + c) % 5)
            }
            bn.numBatchesTracked[0] = 17
        }
        var plain = SafeTensors()
        StateDict.export(store, into: &plain)
        var file = SafeTensors(metadata: metadata ? ["format": "pt", "simclr.kind": "encoder",
                                                      "simclr.model": String(decoding: try JSONEncoder().encode(spec), as: UTF8.self)]
                                                  : ["format": "pt"])
        for name in plain.names {
            let info = plain.info(name)!
            if name.hasSuffix("num_batches_tracked") {
                file.set(prefix + name, shape: info.shape, int64s: try plain.int64s(name))
            } else {
                file.set(prefix + name, shape: info.shape, floats: try plain.floats(name))
            }
        }
        for (name, shape) in extra { file.set(name, shape: shape, floats: [Float](repeating: 0.5, count: shape.reduce(1, *))) }
        let url = folder.appendingPathComponent(name)
        try file.write(to: url)
        return url
    }

    /// IDX files of synthetic RGB shapes, 16 px, in `folder/name`: `train-*` and, unless `test` is
    /// nil, `t10k-*` (its labels rotated by one class with `scrambleTest`).
    func idx(_ name: String, train: Int, test: Int?, classes: Int = 4, scrambleTest: Bool = false) throws -> String {
        try Self.writeIDX(folder.appendingPathComponent(name), train: train, test: test, classes: classes,
                          scrambleTest: scrambleTest)
    }

    static func writeIDX(_ dir: URL, train: Int, test: Int?, classes: Int = 4, scrambleTest: Bool = false) throws -> String {
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        func write(_ prefix: String, _ split: DatasetSplit, _ count: Int, scramble: Bool) throws {
            let set = SyntheticDataset(count: count, classes: classes, size: 16, channels: 3, seed: 21, split: split)
            var images: [UInt8] = [0, 0, 8, 4], labels: [UInt8] = [0, 0, 8, 1]
            for d in [count, 16, 16, 3] { images += withUnsafeBytes(of: UInt32(d).bigEndian, Array.init) }
            labels += withUnsafeBytes(of: UInt32(count).bigEndian, Array.init)
            for i in 0..<count {
                images += try set.image(at: i).pixels
                labels.append(UInt8((set.label(at: i) + (scramble ? 1 : 0)) % classes))
            }
            try Data(images).write(to: dir.appendingPathComponent("\(prefix)-images-idx3-ubyte"))
            try Data(labels).write(to: dir.appendingPathComponent("\(prefix)-labels-idx1-ubyte"))
        }
        try write("train", .train, train, scramble: false)
        if let test { try write("t10k", .test, test, scramble: scrambleTest) }
        return dir.path
    }

    func tensors(_ url: URL, prefix: String = "") throws -> [String: [Float]] {
        let file = try SafeTensors(contentsOf: url)
        var out: [String: [Float]] = [:]
        for name in file.names where name.hasPrefix(prefix) && !name.hasPrefix("optimizer.") {
            let key = String(name.dropFirst(prefix.count))
            out[key] = name.hasSuffix("num_batches_tracked") ? try file.int64s(name).map(Float.init) : try file.floats(name)
        }
        return out
    }

    func metrics(_ run: String) throws -> [[String: Double]] {
        let text = try String(contentsOf: folder.appendingPathComponent("\(run)/metrics.jsonl"), encoding: .utf8)
        return try text.split(separator: "\n").map { line in
            let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            return object.compactMapValues { ($0 as? NSNumber)?.doubleValue }.filter { $0.key != "wall_seconds" }
        }
    }

    func json(_ url: URL) throws -> [String: Any] {
        try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
    }

    // MARK: Tests

    func testLinearModeLeavesEveryEncoderTensorBitIdentical() throws {
        let weights = try encoderFile()
        let saved = try tensors(weights)
        // Cached features (adam, with weight decay that would move any parameter it saw) and
        // augmented images through the frozen encoder.
        for (name, augment) in [("cached", FineTuneAugment.evaluationView), ("augmented", .light)] {
            var c = config(name, mode: .linear, weights: weights, epochs: 2, augment: augment)
            c.weightDecay = 0.1
            XCTAssertEqual(c.cacheFeatures, augment == .evaluationView)
            try run(c)
            for file in ["best", "last"] {
                let after = try tensors(folder.appendingPathComponent("\(name)/checkpoints/\(file).safetensors"))
                for (tensor, values) in saved {
                    XCTAssertEqual(after[tensor], values, "\(name) \(file): \(tensor) changed")
                }
                // The head did train, and only the head is new.
                XCTAssertEqual(Set(after.keys).subtracting(saved.keys), ["fc.weight", "fc.bias"])
            }
            let fc = try tensors(folder.appendingPathComponent("\(name)/checkpoints/last.safetensors"))["fc.weight"]!
            let initial = try Classifier(spec: Self.model, headKind: .linear, classNames: ["a", "b", "c", "d"],
                                         weights: nil, separateHead: true, seed: 4)
            XCTAssertNotEqual(fc, Array(UnsafeBufferPointer(start: initial.headStore.values, count: fc.count)))
        }
    }

    func testTheFrozenRandomEncoderBaselineKeepsItsInitialWeights() throws {
        // The baseline "same encoder, randomly initialised and frozen": asked for explicitly, its
        // encoder is the seeded initialisation and stays so.
        try run(config("random-linear", mode: .linear, weights: nil, epochs: 1))
        let initial = try Classifier(spec: Self.model, headKind: .linear, classNames: ["a", "b", "c", "d"],
                                     weights: nil, separateHead: true, seed: 4)
        let after = try tensors(folder.appendingPathComponent("random-linear/checkpoints/best.safetensors"))
        var expected = SafeTensors()
        StateDict.export(initial.encoderStore, into: &expected)
        let names = expected.names.filter { !$0.hasPrefix("fc.") && !$0.hasSuffix("num_batches_tracked") }
        XCTAssertTrue(names.contains("conv1.weight"))
        for name in names { XCTAssertEqual(after[name], try expected.floats(name), name) }
    }

    func testTheTestSplitNeverSteersTrainingAndThePlateauFollowsValidationLoss() throws {
        let clean = try idx("clean", train: 48, test: 16)
        let scrambled = try idx("scrambled", train: 48, test: 16, scrambleTest: true)
        let weights = try encoderFile()
        // Full fine-tuning on images, and a linear head on cached features with a rate so high that
        // the validation loss cannot keep improving: test labels rotated by one class must change
        // nothing but the test result.
        let runs = [
            ("full", config("", mode: .full, weights: nil, data: clean, lr: 0.01, batch: 16, epochs: 4, patience: 0,
                            factor: 0.5)),
            ("linear", config("", mode: .linear, weights: weights, data: clean, optimizer: .sgd, lr: 30, batch: 16,
                              epochs: 8, patience: 0, factor: 0.5)),
        ]
        for (name, base) in runs {
            var a = base, b = base
            a.out = folder.appendingPathComponent("\(name)-a").path
            b.data = scrambled
            b.out = folder.appendingPathComponent("\(name)-b").path
            let sa = try run(a), sb = try run(b)
            let ma = try metrics("\(name)-a"), mb = try metrics("\(name)-b")
            XCTAssertEqual(ma.count, base.epochs)
            XCTAssertEqual(ma, mb, "\(name): the test labels changed the training trajectory")
            XCTAssertEqual(sa.bestEpoch, sb.bestEpoch, name)
            XCTAssertEqual(try tensors(folder.appendingPathComponent("\(name)-a/checkpoints/best.safetensors")),
                           try tensors(folder.appendingPathComponent("\(name)-b/checkpoints/best.safetensors")), name)
            XCTAssertNotEqual(sa.test.accuracy, sb.test.accuracy, "\(name): the scrambled test labels were not used for the test")

            // The logged rates are ReduceLROnPlateau's on the logged validation losses.
            var plateau = try ReduceLROnPlateau(lr: Double(base.lr), factor: 0.5, patience: 0)
            var reductions = 0
            for record in ma {
                XCTAssertEqual(try XCTUnwrap(record["lr"]), plateau.lr, accuracy: 1e-6 * plateau.lr, name)
                if plateau.step(try XCTUnwrap(record["val_loss"])) { reductions += 1 }
            }
            if name == "linear" {
                XCTAssertGreaterThan(reductions, 0, "no plateau in \(ma.map { $0["val_loss"]! })")
            }
            // The tested checkpoint is the epoch of the best validation accuracy.
            let accuracies = ma.map { $0["val_accuracy"]! }
            XCTAssertEqual(accuracies[sa.bestEpoch - 1], accuracies.max(), name)
        }
    }

    func testLabelFractionsAreStratifiedAndValidationIsTakenFirst() throws {
        let counts = { (d: ImageDataset) -> [Int: Int] in d.labels.reduce(into: [:]) { $0[$1, default: 0] += 1 } }
        let options = Self.synthetic(count: 160, classes: 4)   // 40 per class
        var validationIndices: [Int]?
        var previous: Set<Int>?
        for fraction in [1.0, 0.5, 0.1] {
            let splits = try FineTuneSplits(config: config("s", mode: .full, weights: nil, options: options,
                                                           labelFraction: fraction))
            XCTAssertEqual(counts(splits.validation), [0: 4, 1: 4, 2: 4, 3: 4])
            let expected = Int((36 * fraction).rounded())
            XCTAssertEqual(counts(splits.train), [0: expected, 1: expected, 2: expected, 3: expected], "fraction \(fraction)")
            let validation = (splits.validation as! SubsetDataset).indices
            XCTAssertEqual(validationIndices ?? validation, validation, "the validation split moved with the label fraction")
            validationIndices = validation
            let train = Set(Self.baseIndices(splits.train))
            XCTAssertTrue(train.isDisjoint(with: validation))
            XCTAssertTrue(previous.map { train.isSubset(of: $0) } ?? true, "smaller fractions are subsets of larger ones")
            previous = train
            XCTAssertEqual(splits.testSource, "the data's test split")
        }
        // Data without a test split: a stratified part is held out, apart from train and validation.
        let data = try idx("notest", train: 80, test: nil)
        let splits = try FineTuneSplits(config: config("h", mode: .full, weights: nil, data: data))
        XCTAssertEqual(splits.heldOutTestFraction, 0.2)
        XCTAssertEqual(counts(splits.test), [0: 4, 1: 4, 2: 4, 3: 4])
        let test = Set((splits.test as! SubsetDataset).indices)
        XCTAssertTrue(test.isDisjoint(with: Self.baseIndices(splits.train)))
        XCTAssertTrue(test.isDisjoint(with: Self.baseIndices(splits.validation)))
        XCTAssertEqual(splits.train.count + splits.validation.count + test.count, 80)
    }

    /// Indices into the original dataset of a chain of subsets.
    static func baseIndices(_ d: ImageDataset) -> [Int] {
        guard let subset = d as? SubsetDataset else { return Array(0..<d.count) }
        let inner = baseIndices(subset.base)
        return subset.indices.map { inner[$0] }
    }

    func testWeightsLoadUnderWrapperPrefixesBesideAClassifierAndMismatchesAreNamed() throws {
        let reference = try tensors(try encoderFile("reference.safetensors"))
        let f = Self.model.resNetConfig.featureDimension
        for prefix in ["module.", "backbone.", "encoder.", "module.encoder."] {
            // A foreign file: no metadata, a wrapper prefix, and an ImageNet classifier to ignore.
            let url = try encoderFile("p.safetensors", metadata: false, prefix: prefix,
                                      extra: ["\(prefix)fc.weight": [1000, f], "\(prefix)fc.bias": [1000]])
            let request = ModelRequest(arch: .resnet18, width: 0.0625, imageSize: 16, normalize: NormalizationChoice(argument: "0.5/0.25"))
            let resolved = try request.resolve(weights: url.path, data: nil, format: .auto)
            XCTAssertEqual(resolved.model.inputChannels, 3)
            XCTAssertEqual(resolved.model.stem, .cifar)
            let classifier = try Classifier(spec: resolved.model, headKind: .linear, classNames: ["a", "b"],
                                            weights: try PretrainedEncoder.open(url.path, fallback: resolved.model),
                                            separateHead: true, seed: 1)
            XCTAssertEqual(classifier.loadReport?.unused, ["fc.bias", "fc.weight"], prefix)
            var out = SafeTensors()
            StateDict.export(classifier.encoderStore, into: &out)
            for (name, values) in reference {
                let loaded = name.hasSuffix("num_batches_tracked") ? try out.int64s(name).map(Float.init) : try out.floats(name)
                XCTAssertEqual(loaded, values, "\(prefix)\(name)")
            }
            // Such a file does not say how to normalise: that must be given.
            XCTAssertThrowsError(try ModelRequest(arch: .resnet18).resolve(weights: url.path, data: nil, format: .auto)) {
                XCTAssertTrue("\($0)".contains("--normalize"), "\($0)")
            }
        }
        // A file whose first convolution has another shape, and one that lacks a block.
        let wide = try encoderFile("wide.safetensors", spec: ModelSpec(
            arch: .resnet18, width: 0.125, stem: .cifar, inputChannels: 3, imageSize: 16, mean: [0.5], std: [0.25]))
        XCTAssertThrowsError(try Classifier(spec: Self.model, headKind: .linear, classNames: ["a", "b"],
                                            weights: try PretrainedEncoder.open(wide.path, fallback: nil),
                                            separateHead: true, seed: 1)) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains("does not fit the model") && message.contains("conv1.weight [8, 3, 3, 3]"), message)
            XCTAssertFalse(message.contains("\n"), message)
        }
        var partial = try SafeTensors(contentsOf: try encoderFile("partial.safetensors"))
        for name in partial.names where name.hasPrefix("layer4.") { partial.remove(name) }
        let partialURL = folder.appendingPathComponent("partial2.safetensors")
        try partial.write(to: partialURL)
        XCTAssertThrowsError(try Classifier(spec: Self.model, headKind: .linear, classNames: ["a", "b"],
                                            weights: try PretrainedEncoder.open(partialURL.path, fallback: nil),
                                            separateHead: true, seed: 1)) {
            XCTAssertTrue("\($0)".contains("missing layer4.0."), "\($0)")
        }
    }

    func testTheWeightsMetadataSetsInputSizeAndNormalisationUnlessOverridden() throws {
        var spec = Self.model
        spec.mean = [0.4, 0.5, 0.6]
        spec.std = [0.2, 0.3, 0.4]
        spec.imageSize = 12
        let url = try encoderFile(spec: spec)
        let plain = try ModelRequest().resolve(weights: url.path, data: nil, format: .auto)
        XCTAssertEqual(plain.model, spec)
        XCTAssertEqual(plain.source, "weights metadata")
        let overridden = try ModelRequest(imageSize: 16, normalize: .imagenet).resolve(weights: url.path, data: nil,
                                                                                                 format: .auto)
        XCTAssertEqual(overridden.model.imageSize, 16)
        XCTAssertEqual(overridden.model.normalization, .imageNet)
        XCTAssertEqual(overridden.source, "weights metadata, overridden by --image-size, --normalize")
        XCTAssertThrowsError(try ModelRequest(arch: .resnet50).resolve(weights: url.path, data: nil, format: .auto)) {
            XCTAssertTrue("\($0)".contains("does not match the weights"), "\($0)")
        }
    }

    func testFullFineTuningLearnsAndEvaluateReproducesTheTestReport() throws {
        let data = try idx("easy", train: 160, test: 40)
        let c = config("full", mode: .full, weights: nil, data: data, lr: 3e-3, batch: 16, epochs: 8)
        let summary = try run(c)
        // Four coloured shapes: chance is 0.25.
        XCTAssertGreaterThan(summary.test.accuracy, 0.75, summary.test.report.text())
        let run = folder.appendingPathComponent("full")

        // The best checkpoint, rebuilt from its file alone, gives the same report on the test split.
        let (classifier, result) = try ClassifierEvaluator.evaluate(
            weights: run.appendingPathComponent("checkpoints/best.safetensors").path, data: data, format: .idx,
            split: .test, communicator: SingleProcessCommunicator())
        XCTAssertEqual(classifier.spec, c.model)
        XCTAssertEqual(result.report.text(digits: ClassifierResult.digits),
                       try String(contentsOf: run.appendingPathComponent("report.txt"), encoding: .utf8))
        XCTAssertEqual(result.accuracy, summary.test.accuracy)

        // What the run folder holds, and its shapes.
        let k = 10, n = 40, f = Self.model.resNetConfig.featureDimension   // IDX names the ten digits
        let config = try json(run.appendingPathComponent("config.json"))
        XCTAssertEqual(config["command"] as? String, "finetune")
        XCTAssertEqual(config["data"] as? String, data)
        XCTAssertEqual(config["format"] as? String, "idx")
        XCTAssertEqual((config["model"] as? [String: Any])?["imageSize"] as? Int, 16)
        let lines = try metrics("full")
        XCTAssertEqual(lines.count, 8)
        for (e, line) in lines.enumerated() {
            XCTAssertEqual(line["epoch"], Double(e + 1))
            for key in ["train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr"] { XCTAssertNotNil(line[key], key) }
        }
        let summaryJSON = try json(run.appendingPathComponent("summary.json"))
        for key in ["test_accuracy", "test_top5_accuracy", "mean_per_class_accuracy", "best_val_accuracy", "best_epoch",
                    "epochs", "train_images", "wall_seconds"] {
            XCTAssertNotNil(summaryJSON[key], key)
        }
        XCTAssertEqual(summaryJSON["test_accuracy"] as? Double, summary.test.accuracy)
        XCTAssertEqual(summaryJSON["train_images"] as? Int, 144)
        let report = try json(run.appendingPathComponent("report.json"))
        XCTAssertEqual(Set(report.keys), Set((0..<k).map(String.init) + ["accuracy", "macro avg", "weighted avg"]))
        let csv = try String(contentsOf: run.appendingPathComponent("confusion.csv"), encoding: .utf8)
            .split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false) }
        XCTAssertEqual(csv.count, k + 1)
        XCTAssertTrue(csv.allSatisfy { $0.count == k + 1 })
        XCTAssertEqual(csv.dropFirst().flatMap { $0.dropFirst() }.compactMap { Int($0) }.reduce(0, +), n)
        let embeddings = try NpyFile.read(contentsOf: run.appendingPathComponent("embeddings.npy"))
        XCTAssertEqual(embeddings.shape, [n, f])
        let labels = try String(contentsOf: run.appendingPathComponent("embeddings.labels.txt"), encoding: .utf8)
        XCTAssertEqual(labels.split(separator: "\n").compactMap { Int($0) }, (0..<n).map { $0 % 4 })
        let classes = try String(contentsOf: run.appendingPathComponent("embeddings.classes.txt"), encoding: .utf8)
        XCTAssertEqual(classes.split(separator: "\n").count, k)
        for file in ["index.html", "loss.svg", "accuracy.svg", "confusion.svg", "report.txt", "checkpoints/last.safetensors"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: run.appendingPathComponent(file).path), file)
        }
        let best = try SafeTensors(contentsOf: run.appendingPathComponent("checkpoints/best.safetensors"))
        XCTAssertEqual(best.metadata["simclr.epoch"], String(summary.bestEpoch))
        XCTAssertEqual(best.info("fc.weight")?.shape, [k, f])
        XCTAssertEqual(best.info("conv1.weight")?.shape, [4, 3, 3, 3])
    }

    func testLogisticRegressionProbeOnCachedFeatures() throws {
        let weights = try encoderFile()
        let options = Self.synthetic(count: 320, classes: 4)
        let summary = try run(config("lbfgs", mode: .linear, weights: weights, options: options, optimizer: .lbfgs))
        // Features of a random encoder, four classes of coloured shapes: chance is 0.25.
        XCTAssertGreaterThan(summary.test.accuracy, 0.4, summary.test.report.text())
        XCTAssertEqual(summary.epochs, 1)
        let lines = try metrics("lbfgs")
        XCTAssertEqual(lines.count, 1)
        XCTAssertNil(lines[0]["lr"])
        XCTAssertGreaterThan(try XCTUnwrap(lines[0]["train_accuracy"]), summary.test.accuracy - 0.1)
        // The encoder is untouched and fc holds the regression fitted to the training features.
        let best = folder.appendingPathComponent("lbfgs/checkpoints/best.safetensors")
        let saved = try tensors(weights), after = try tensors(best)
        for (name, values) in saved { XCTAssertEqual(after[name], values, name) }
        let classifier = try Classifier.open(best.path)
        XCTAssertEqual(classifier.headKind, .linear)
        let splits = try FineTuneSplits(config: config("x", mode: .linear, weights: weights, options: options))
        let transform = EvaluationTransform(size: 16, normalization: Self.model.normalization)
        let train = try ClassifierInference(dataset: splits.train, transform: transform, comm: SingleProcessCommunicator(),
                                            batchSize: 16, workers: 1).run(classifier, logits: false, features: true)
        let probe = try LogisticRegression(regularization: .weightDecay(1e-4), standardize: true)
        try probe.fit(features: train.features!, labels: train.labels, classes: 4)
        XCTAssertEqual(after["fc.weight"], probe.weight.array)
        XCTAssertEqual(after["fc.bias"], probe.bias.array)
    }

    func testEvaluateRebuildsTheHeldOutTestPartOfDataWithoutATestSplit() throws {
        let data = try idx("notest", train: 60, test: nil)
        let summary = try run(config("holdout", mode: .linear, weights: try encoderFile(), data: data, epochs: 1))
        XCTAssertEqual(summary.test.count, 12)   // a fifth of each class's 15
        let best = folder.appendingPathComponent("holdout/checkpoints/best.safetensors").path
        var lines: [String] = []
        let (_, result) = try ClassifierEvaluator.evaluate(weights: best, data: data, format: .idx, split: .test,
                                                           communicator: SingleProcessCommunicator(), log: { lines.append($0) })
        XCTAssertTrue(lines.contains { $0.contains("held out") }, "\(lines)")
        XCTAssertEqual(result.report.text(digits: ClassifierResult.digits),
                       try String(contentsOf: folder.appendingPathComponent("holdout/report.txt"), encoding: .utf8))
        // A file that is not a classifier is refused in one line.
        XCTAssertThrowsError(try ClassifierEvaluator.evaluate(weights: try encoderFile().path, data: data, format: .idx,
                                                              split: .test, communicator: SingleProcessCommunicator())) {
            XCTAssertTrue("\($0)".contains("is not a classifier saved by"), "\($0)")
        }
    }

    func testAStoppedRunResumesMidEpochOnTheSameTrajectory() throws {
        let data = try idx("resume", train: 48, test: 8)
        let straight = config("straight", mode: .full, weights: nil, data: data, batch: 16, epochs: 3)
        try run(straight)
        let split = config("split", mode: .full, weights: nil, data: data, batch: 16, epochs: 3)
        let stop = StopSignal()
        kill(getpid(), SIGTERM)
        let deadline = Date().addingTimeInterval(5)
        while stop.signalName == nil && Date() < deadline { usleep(10_000) }
        XCTAssertThrowsError(try run(split, stop: stop)) { XCTAssertTrue("\($0)".contains("stopped by SIGTERM"), "\($0)") }
        let checkpoint = try SafeTensors(contentsOf: folder.appendingPathComponent("split/checkpoints/last.safetensors"))
        let progress = try JSONDecoder().decode(FineTuneProgress.self,
                                                from: Data(checkpoint.metadata[ClassifierCheckpoint.progressKey]!.utf8))
        XCTAssertEqual(progress.epoch, 0)
        XCTAssertEqual(progress.step, 1)
        try run(split, resume: true)
        XCTAssertEqual(try metrics("split"), try metrics("straight"))
        XCTAssertEqual(try tensors(folder.appendingPathComponent("split/checkpoints/last.safetensors")),
                       try tensors(folder.appendingPathComponent("straight/checkpoints/last.safetensors")))
        XCTAssertEqual(try String(contentsOf: folder.appendingPathComponent("split/report.txt"), encoding: .utf8),
                       try String(contentsOf: folder.appendingPathComponent("straight/report.txt"), encoding: .utf8))
        // More epochs may follow on a plateau schedule; other changes are refused.
        var more = split
        more.epochs = 4
        try run(more, resume: true)
        XCTAssertEqual(try metrics("split").count, 4)
        var other = more
        other.batchSize = 8
        XCTAssertThrowsError(try run(other, resume: true)) { XCTAssertTrue("\($0)".contains("batchSize"), "\($0)") }
    }

    func testRefusedSettings() throws {
        let weights = try encoderFile()
        try run(config("done", mode: .linear, weights: weights, epochs: 1))
        XCTAssertThrowsError(try run(config("done", mode: .linear, weights: weights, epochs: 1))) {
            XCTAssertTrue("\($0)".contains("already holds a run"), "\($0)")
        }
        XCTAssertThrowsError(try run(config("l", mode: .full, weights: weights, optimizer: .lbfgs))) {
            XCTAssertTrue("\($0)".contains("lbfgs"), "\($0)")
        }
        XCTAssertThrowsError(try FinetuneOptions.parse(["--mode", "full", "--init", "random", "--out", "b",
                                                        "--batch-size", "0"])) {
            XCTAssertTrue(FinetuneOptions.message(for: $0).contains("--batch-size"), "\($0)")
        }
        XCTAssertThrowsError(try FinetuneOptions.parse(["--mode", "full", "--out", "b"])) {
            XCTAssertTrue(FinetuneOptions.message(for: $0).contains("--weights FILE"), "\($0)")
        }
    }
}
