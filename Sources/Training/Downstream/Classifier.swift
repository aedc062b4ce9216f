import Distributed
import Formats
import Foundation
import NN
import Tensors

/// An encoder f (a torchvision-named ResNet) and a classifier head (`fc.*`): what fine-tuning trains
/// and `evaluate` rebuilds from a saved file.
///
/// With `separateHead` the head's parameters live in a store of their own, so that an optimiser
/// built on `headStore` cannot touch the encoder (weight decay on a frozen encoder would move it);
/// otherwise one store holds both and one all-reduce carries every gradient.
public final class Classifier {
    public let spec: ModelSpec
    public let headKind: ClassifierHead.Kind
    public let classNames: [String]
    public let encoder: ResNet
    public let head: ClassifierHead
    /// The encoder's parameters and buffers, and the head's too unless it is separate.
    public let encoderStore: ParameterStore
    /// The head's parameters (`encoderStore` itself when not separate).
    public let headStore: ParameterStore
    /// What loading the pretrained weights did with the file's names (prefixes stripped, tensors
    /// unused); nil with random initialisation.
    public let loadReport: StateDict.LoadReport?

    /// Builds the network: the encoder from `weights` (nil: random initialisation from `seed`),
    /// the head initialised from `seed` as PyTorch's Linear.
    public init(spec: ModelSpec, headKind: ClassifierHead.Kind, classNames: [String], weights: PretrainedEncoder?,
                separateHead: Bool, seed: UInt64) throws {
        precondition(!classNames.isEmpty, "Classifier: no classes")
        self.spec = spec
        self.headKind = headKind
        self.classNames = classNames
        let store = ParameterStore()
        var built: ClassifierHead?
        let makeHead = { (s: ParameterStore, f: Int) in
            ClassifierHead(s, kind: headKind, inputDimension: f, classes: classNames.count)
        }
        if var weights {
            weights.spec = spec
            encoder = try weights.build(into: store, seed: seed) { encoder in
                if !separateHead { built = makeHead(store, encoder.featureDimension) }
            }
            loadReport = weights.report
        } else {
            try spec.checkBuildable(source: "the classifier's encoder")
            encoder = ResNet(spec.resNetConfig, store: store, kernels: .default)
            if !separateHead { built = makeHead(store, encoder.featureDimension) }
            store.finalize(seed: seed)
            loadReport = nil
        }
        encoderStore = store
        if let built {
            head = built
            headStore = store
        } else {
            let own = ParameterStore()
            head = makeHead(own, encoder.featureDimension)
            own.finalize(seed: seed &+ 1)
            headStore = own
        }
        encoder.needsInputGradient = false
    }

    /// Whether one store holds encoder and head.
    public var isJoint: Bool { encoderStore === headStore }

    /// The stores holding every tensor, each once.
    var stores: [ParameterStore] { isJoint ? [encoderStore] : [encoderStore, headStore] }

    // MARK: Files

    /// Metadata keys of a saved classifier (besides `simclr.model`, the encoder's `ModelSpec`).
    static let classesKey = "simclr.classes", headKey = "simclr.head", headHiddenKey = "simclr.head_hidden"

    /// What a file needs to rebuild this classifier: the model spec, class names and head kind.
    public var metadata: [String: String] {
        let model = String(decoding: (try? JSONEncoder().encode(spec)) ?? Data(), as: UTF8.self)
        let classes = String(decoding: (try? JSONEncoder().encode(classNames)) ?? Data(), as: UTF8.self)
        var m = ["format": "pt", "simclr.model": model, Self.classesKey: classes]
        switch headKind {
        case .linear: m[Self.headKey] = "linear"
        case .mlp(let hidden):
            m[Self.headKey] = "mlp"
            m[Self.headHiddenKey] = String(hidden)
        }
        return m
    }

    /// Adds every parameter and buffer, torchvision names (encoder, then `fc.*`), to `file`.
    func export(into file: inout SafeTensors) {
        for store in stores { StateDict.export(store, into: &file) }
    }

    /// Loads every parameter and buffer from `file`; a tensor missing or of another shape is an
    /// error naming it.
    func load(_ file: SafeTensors) throws {
        for store in stores { try StateDict.load(file, into: store) }
    }

    /// Writes the whole classifier to `url` (`simclr.kind` "classifier"), `extra` added to the metadata.
    public func write(to url: URL, extraMetadata extra: [String: String] = [:]) throws {
        var meta = metadata.merging(extra) { _, new in new }
        meta["simclr.kind"] = "classifier"
        var file = SafeTensors(metadata: meta)
        export(into: &file)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try file.write(to: url)
    }

    /// Rebuilds a classifier saved by `write` (or a fine-tuning checkpoint) from `path`, in one store.
    public static func open(_ path: String) throws -> Classifier {
        try build(from: WeightsFile.open(path), path: path)
    }

    /// The classifier `file` describes, its weights loaded.
    static func build(from file: SafeTensors, path: String) throws -> Classifier {
        let m = file.metadata
        guard let modelJSON = m["simclr.model"], let classesJSON = m[classesKey], let headName = m[headKey],
              let classes = try? JSONDecoder().decode([String].self, from: Data(classesJSON.utf8)), !classes.isEmpty else {
            throw TrainingError.invalidOption(
                "--weights \(path) is not a classifier saved by `simclr finetune` (its metadata lacks the model, classes or head)")
        }
        let kind: ClassifierHead.Kind
        switch headName {
        case "linear": kind = .linear
        case "mlp":
            guard let hidden = Int(m[headHiddenKey] ?? ""), hidden > 0 else {
                throw TrainingError.invalidOption("--weights \(path): an mlp head without its hidden width")
            }
            kind = .mlp(hidden: hidden)
        default: throw TrainingError.invalidOption("--weights \(path): unknown head '\(headName)'")
        }
        let spec = try JSONValue.decode(ModelSpec.self, from: modelJSON, source: "\(path), metadata simclr.model")
        let classifier = try Classifier(spec: spec, headKind: kind, classNames: classes, weights: nil,
                                        separateHead: false, seed: 0)
        try classifier.load(file)
        return classifier
    }
}
