import Foundation
import Images

/// A run's `config.json` as the report reads it: the whole object for the settings table, and the
/// few keys that say how to reopen the run's data and redraw its augmented views.
struct RunConfig {
    let object: [String: Any]

    init(url: URL) throws {
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw RunReportError.notARunFolder(path: url.deletingLastPathComponent().path)
        }
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw RunReportError.unreadableConfig(path: url.path, reason: error.localizedDescription)
        }
        guard let parsed = try? JSONSerialization.jsonObject(with: data), let object = parsed as? [String: Any] else {
            throw RunReportError.unreadableConfig(path: url.path, reason: "not a JSON object")
        }
        self.object = object
        switch object["format"] {
        case nil, is NSNull: format = .auto
        case let name as String where DatasetFormat(name: name) != nil: format = DatasetFormat(name: name)!
        case let value?:
            throw RunReportError.unreadableConfig(
                path: url.path, reason: "key 'format': \(value) is not one of "
                    + DatasetFormat.allCases.map(\.rawValue).joined(separator: ", "))
        }
    }

    /// `pretrain`, `finetune`, ...
    var command: String? { object["command"] as? String }

    /// The dataset path; nil (or `null`) means the built-in synthetic set.
    var dataPath: String? { object["data"] as? String }

    /// The dataset's format; `auto` when the config does not say.
    let format: DatasetFormat

    var seed: UInt64 { (object["seed"] as? NSNumber).map { UInt64(truncatingIfNeeded: $0.int64Value) } ?? 0 }

    /// Every setting as `(dotted key, value)`, sorted by key.
    var settings: [(key: String, value: String)] { JSONDisplay.flatten(object) }

    private var model: [String: Any] { object["model"] as? [String: Any] ?? [:] }

    var inputChannels: Int? { (model["inputChannels"] as? NSNumber)?.intValue }

    /// The run's view pipeline: `augmentation` (a JSON-encoded `SimCLRAugmentation`, as an object or
    /// as a string holding one), else SimCLR's defaults for the model's image size and normalisation.
    /// `fallback` says why the defaults were used.
    func augmentation() -> (augmentation: SimCLRAugmentation, fallback: String?) {
        var encoded: Data?
        if let nested = object["augmentation"] as? [String: Any] {
            encoded = try? JSONSerialization.data(withJSONObject: nested)
        } else if let text = object["augmentation"] as? String {
            encoded = Data(text.utf8)
        }
        if let encoded, let decoded = try? JSONDecoder().decode(SimCLRAugmentation.self, from: encoded) {
            return (decoded, nil)
        }
        let size = (model["imageSize"] as? NSNumber)?.intValue ?? 32
        let mean = (model["mean"] as? [NSNumber])?.map(\.floatValue) ?? []
        let std = (model["std"] as? [NSNumber])?.map(\.floatValue) ?? []
        let normalization = !mean.isEmpty && mean.count == std.count && std.allSatisfy({ $0 > 0 })
            ? Normalization(mean: mean, std: std) : .none
        let why = encoded == nil ? "config.json has no augmentation" : "config.json's augmentation could not be decoded"
        return (SimCLRAugmentation(size: max(size, 1), normalization: normalization), why + "; showing SimCLR's defaults")
    }

    /// Options to reopen the dataset with: the model's input channels, and any of `channels`,
    /// `petLabels`, `syntheticCount`, `syntheticClasses`, `syntheticSize`, `syntheticSeed` found in a
    /// `datasetOptions` object. Files are not validated when the folder is listed: a report reads a
    /// handful of them, and checking a million headers first would take minutes.
    var datasetOptions: DatasetOptions {
        var options = DatasetOptions(channels: inputChannels, validation: .none)
        let given = object["datasetOptions"] as? [String: Any] ?? [:]
        func int(_ key: String) -> Int? { (given[key] as? NSNumber)?.intValue }
        if let c = int("channels") { options.channels = c }
        if let labels = (given["petLabels"] as? String).flatMap(OxfordPetDataset.Labels.init(rawValue:)) {
            options.petLabels = labels
        }
        if let n = int("syntheticCount"), n > 0 { options.syntheticCount = n }
        if let n = int("syntheticClasses"), n > 0 { options.syntheticClasses = n }
        if let n = int("syntheticSize"), n >= 4 { options.syntheticSize = n }
        if let n = given["syntheticSeed"] as? NSNumber { options.syntheticSeed = UInt64(truncatingIfNeeded: n.int64Value) }
        return options
    }
}
