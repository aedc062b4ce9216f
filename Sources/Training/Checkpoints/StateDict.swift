import Formats
import Foundation
import Tensors

/// Moves a `ParameterStore` to and from safetensors under torchvision's names and layouts, so
/// weights go both ways between this tool and PyTorch.
public enum StateDict {
    /// Adds every parameter and buffer of `store` whose name passes `include` to `file`, convolution
    /// weights permuted from `[Cout, kh, kw, Cin]` to torchvision's `[Cout, Cin, kh, kw]`.
    public static func export(_ store: ParameterStore, into file: inout SafeTensors,
                              include: (String) -> Bool = { _ in true }) {
        for p in store.parameters where include(p.name) {
            let values = UnsafeBufferPointer(start: p.value, count: p.count)
            switch p.layout {
            case .plain:
                file.set(p.name, shape: p.exportShape, floats: values)
            case .convOHWI:
                file.set(p.name, shape: p.exportShape, floats: permuteOHWItoOIHW(values, shape: p.shape))
            }
        }
        for b in store.buffers where include(b.name) {
            let values = UnsafeBufferPointer(start: b.tensor.data, count: b.tensor.count)
            if b.name.hasSuffix("num_batches_tracked") {
                file.set(b.name, shape: [], int64s: [Int64(values.first ?? 0)])
            } else {
                file.set(b.name, shape: b.tensor.shape, floats: values)
            }
        }
    }

    /// What `load` did with the file's names.
    public struct LoadReport: Equatable {
        /// Prefixes removed from the file's names (`module.`, `backbone.`, `encoder.`).
        public var strippedPrefixes: [String] = []
        /// Tensors in the file that the model has no use for (a classifier `fc`, a projection head).
        public var unused: [String] = []
    }

    /// Prefixes that wrappers in other tools put before torchvision's names.
    public static let knownPrefixes = ["module.", "backbone.", "encoder.", "model.", "resnet."]

    /// Loads every parameter and buffer of `store` that passes `include` from `file`. Names in the
    /// file may carry one or more known wrapper prefixes; they are stripped. A tensor the store
    /// needs that is missing, or whose shape differs, is an error naming them all.
    @discardableResult
    public static func load(_ file: SafeTensors, into store: ParameterStore,
                            include: (String) -> Bool = { _ in true }) throws -> LoadReport {
        var report = LoadReport()
        var byName: [String: String] = [:]   // model name -> file name
        for fileName in file.names {
            var name = fileName
            var stripping = true
            while stripping {
                stripping = false
                for prefix in knownPrefixes where name.hasPrefix(prefix) && !store.hasTensor(named: name) {
                    name.removeFirst(prefix.count)
                    if !report.strippedPrefixes.contains(prefix) { report.strippedPrefixes.append(prefix) }
                    stripping = true
                }
            }
            byName[name] = fileName
        }
        var missing: [String] = [], mismatched: [String] = []
        for p in store.parameters where include(p.name) {
            guard let fileName = byName[p.name], let info = file.info(fileName) else { missing.append(p.name); continue }
            guard info.shape == p.exportShape else {
                mismatched.append("\(p.name) \(info.shape) (expected \(p.exportShape))")
                continue
            }
            let values = try file.floats(fileName)
            switch p.layout {
            case .plain:
                values.withUnsafeBufferPointer { p.value.update(from: $0.baseAddress!, count: p.count) }
            case .convOHWI:
                permuteOIHWtoOHWI(values, shape: p.shape, into: p.value)
            }
        }
        for b in store.buffers where include(b.name) {
            guard let fileName = byName[b.name], let info = file.info(fileName) else {
                // Older PyTorch files lack the counter; it does not affect results.
                if !b.name.hasSuffix("num_batches_tracked") { missing.append(b.name) }
                continue
            }
            if b.name.hasSuffix("num_batches_tracked") {
                b.tensor[0] = Float(try file.int64s(fileName).first ?? 0)
                continue
            }
            guard info.count == b.tensor.count else {
                mismatched.append("\(b.name) \(info.shape) (expected \(b.tensor.shape))")
                continue
            }
            try file.copyFloats(fileName, into: UnsafeMutableBufferPointer(start: b.tensor.data, count: b.tensor.count))
        }
        let nonFinite = store.parameters.filter { p in include(p.name) && !Self.isFinite(p.value, p.count) }.map(\.name)
            + store.buffers.filter { b in include(b.name) && !Self.isFinite(b.tensor.data, b.tensor.count) }.map(\.name)
        if !nonFinite.isEmpty && missing.isEmpty && mismatched.isEmpty {
            throw TrainingError.io("\(file.source) holds weights that are not finite numbers (NaN or infinity) in "
                                   + "\(summarize(nonFinite)); it cannot be trained or evaluated")
        }
        if !missing.isEmpty || !mismatched.isEmpty {
            var parts: [String] = []
            if !missing.isEmpty { parts.append("missing \(summarize(missing))") }
            if !mismatched.isEmpty { parts.append("shape mismatch \(summarize(mismatched))") }
            throw TrainingError.io("\(file.source) does not fit the model: " + parts.joined(separator: "; "))
        }
        let used = Set(store.parameters.map(\.name) + store.buffers.map(\.name))
        report.unused = byName.keys.filter { !used.contains($0) }.sorted()
        return report
    }

    private static func isFinite(_ values: UnsafeMutablePointer<Float>, _ count: Int) -> Bool {
        for i in 0..<count where !values[i].isFinite { return false }
        return true
    }

    /// The first few names and a count of the rest, to keep an error on one line.
    static func summarize(_ names: [String]) -> String {
        let shown = names.prefix(6).joined(separator: ", ")
        return names.count > 6 ? "\(shown) and \(names.count - 6) more" : shown
    }

    static func permuteOHWItoOIHW(_ v: UnsafeBufferPointer<Float>, shape: [Int]) -> [Float] {
        let (o, kh, kw, i) = (shape[0], shape[1], shape[2], shape[3])
        var out = [Float](repeating: 0, count: v.count)
        for a in 0..<o { for y in 0..<kh { for x in 0..<kw { for c in 0..<i {
            out[((a * i + c) * kh + y) * kw + x] = v[((a * kh + y) * kw + x) * i + c]
        } } } }
        return out
    }

    static func permuteOIHWtoOHWI(_ v: [Float], shape: [Int], into out: UnsafeMutablePointer<Float>) {
        let (o, kh, kw, i) = (shape[0], shape[1], shape[2], shape[3])
        for a in 0..<o { for y in 0..<kh { for x in 0..<kw { for c in 0..<i {
            out[((a * kh + y) * kw + x) * i + c] = v[((a * i + c) * kh + y) * kw + x]
        } } } }
    }
}

extension ParameterStore {
    func hasTensor(named name: String) -> Bool {
        parameter(named: name) != nil || buffer(named: name) != nil
    }
}
