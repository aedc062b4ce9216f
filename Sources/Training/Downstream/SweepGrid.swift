import Foundation

/// What a sweep varies: fine-tuning options and their values (`lr=1e-3,1e-4;batch-size=32,64`),
/// and the encoders to start from (`simclr=RUN/encoder.safetensors,random,supervised=FILE`).
/// Every combination of one value per variable and one model is a cell.
public struct SweepGrid: Equatable {
    /// One swept option: `name` is the long option without its dashes (`lr` for `--lr`).
    public struct Variable: Equatable {
        public var name: String
        public var values: [String]
    }

    /// Where a cell's encoder comes from.
    public struct Model: Equatable {
        public var name: String
        /// The weights file, or nil for a randomly initialised encoder (`--init random`).
        public var weights: String?
    }

    /// One run: a model and one value of each variable (in `variables` order).
    public struct Cell: Equatable {
        public var model: Model
        public var values: [String]
        /// The cell's folder name: `<model>-<name>=<value>_<name>=<value>...`, characters other
        /// than letters, digits and `.+-` in values written `%XX`.
        public var folderName: String
    }

    public var variables: [Variable]
    public var models: [Model]

    /// Options the sweep sets itself, which a grid may not vary.
    public static let reservedOptions = ["weights", "init", "out", "resume"]

    /// Parses `--grid` (`name=v1,v2;name=v1`, may be empty) and `--models` (comma-separated
    /// `name=FILE` or `random`; a bare FILE is named after its file). Throws a `TrainingError` for
    /// a malformed list, a repeated name or value, a reserved option, or a weights file that does not exist.
    public init(grid: String, models: String) throws {
        variables = []
        for part in grid.split(separator: ";", omittingEmptySubsequences: true) {
            let text = part.trimmingCharacters(in: .whitespaces)
            guard !text.isEmpty else { continue }
            guard let equals = text.firstIndex(of: "=") else {
                throw TrainingError.invalidOption("--grid: '\(text)' is not NAME=VALUE,VALUE...")
            }
            var name = String(text[..<equals]).trimmingCharacters(in: .whitespaces)
            if name.hasPrefix("--") { name.removeFirst(2) }
            let values = text[text.index(after: equals)...].split(separator: ",")
                .map { $0.trimmingCharacters(in: .whitespaces) }
            guard Self.isOptionName(name) else {
                throw TrainingError.invalidOption("--grid: '\(name)' is not an option name (letters, digits and '-')")
            }
            guard !Self.reservedOptions.contains(name) else {
                throw TrainingError.invalidOption("--grid: --\(name) is set by the sweep itself and cannot be varied")
            }
            guard !variables.contains(where: { $0.name == name }) else {
                throw TrainingError.invalidOption("--grid: \(name) appears twice")
            }
            guard !values.isEmpty, !values.contains(where: \.isEmpty) else {
                throw TrainingError.invalidOption("--grid: \(name) needs one or more non-empty values")
            }
            guard Set(values).count == values.count else {
                throw TrainingError.invalidOption("--grid: \(name) lists a value twice")
            }
            variables.append(Variable(name: name, values: values))
        }

        self.models = []
        for part in models.split(separator: ",") {
            let text = part.trimmingCharacters(in: .whitespaces)
            guard !text.isEmpty else { continue }
            let model: Model
            if let equals = text.firstIndex(of: "=") {
                let name = String(text[..<equals]), value = String(text[text.index(after: equals)...])
                model = Model(name: name, weights: value == "random" ? nil : value)
            } else if text == "random" {
                model = Model(name: "random", weights: nil)
            } else {
                model = Model(name: URL(fileURLWithPath: text).deletingPathExtension().lastPathComponent, weights: text)
            }
            guard !model.name.isEmpty, model.name.allSatisfy({ $0.isLetter || $0.isNumber || "._+-".contains($0) }) else {
                throw TrainingError.invalidOption("--models: '\(model.name)' is not a model name (letters, digits and ._+-)")
            }
            guard !self.models.contains(where: { $0.name == model.name }) else {
                throw TrainingError.invalidOption("--models: two models are called '\(model.name)'")
            }
            if let weights = model.weights, !FileManager.default.fileExists(atPath: weights) {
                throw TrainingError.invalidOption("--models: \(model.name)'s weights \(weights) do not exist")
            }
            self.models.append(model)
        }
        guard !self.models.isEmpty else {
            throw TrainingError.invalidOption("--models lists no model (e.g. simclr=runs/a/encoder.safetensors,random)")
        }
    }

    /// Every cell: models in the order given, then the variables' values with the last varying fastest.
    public var cells: [Cell] {
        var combinations: [[String]] = [[]]
        for variable in variables {
            combinations = combinations.flatMap { prefix in variable.values.map { prefix + [$0] } }
        }
        return models.flatMap { model in
            combinations.map { values in
                let pairs = zip(variables, values).map { "\($0.name)=\(Self.folderSafe($1))" }
                return Cell(model: model, values: values,
                            folderName: ([model.name] + (pairs.isEmpty ? [] : [pairs.joined(separator: "_")]))
                                .joined(separator: "-"))
            }
        }
    }

    /// The arguments after the fine-tuning command for `cell`: the fixed ones, each variable as
    /// `--name value`, the model's `--weights FILE` or `--init random`, and `--out`.
    public func arguments(for cell: Cell, fixed: [String], out: URL) -> [String] {
        var arguments = fixed
        for (variable, value) in zip(variables, cell.values) { arguments += ["--\(variable.name)", value] }
        if let weights = cell.model.weights {
            arguments += ["--weights", weights]
        } else {
            arguments += ["--init", "random"]
        }
        return arguments + ["--out", out.path]
    }

    /// Throws when `fixed` (the options passed through to every cell) sets a swept or reserved option.
    public func checkFixed(_ fixed: [String]) throws {
        let controlled = Self.reservedOptions + variables.map(\.name)
        for argument in fixed where argument.hasPrefix("--") {
            let name = String(argument.dropFirst(2).prefix { $0 != "=" })
            if controlled.contains(name) {
                throw TrainingError.invalidOption(
                    "--\(name) is " + (Self.reservedOptions.contains(name) ? "set by the sweep for each cell" : "swept by --grid")
                    + "; it cannot also be passed to every cell")
            }
        }
    }

    static func isOptionName(_ name: String) -> Bool {
        guard let first = name.first, first.isLetter else { return false }
        return name.allSatisfy { ($0.isLetter && $0.isASCII) || $0.isNumber || $0 == "-" }
    }

    static func folderSafe(_ value: String) -> String {
        var out = ""
        for byte in value.utf8 {
            let c = Character(UnicodeScalar(byte))
            if (c.isASCII && (c.isLetter || c.isNumber)) || ".+-".contains(c) {
                out.append(c)
            } else {
                out += String(format: "%%%02X", byte)
            }
        }
        return out
    }
}
