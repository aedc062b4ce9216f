import ArgumentParser
import Foundation
import Images
import Training

/// `simclr bench ...`: throughput benchmarks (never timed assertions in tests).
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure the speed of the kernels, the training step and the data pipeline.",
        subcommands: [BenchData.self])
}

/// Options every benchmark shares.
struct BenchOptions: ParsableArguments {
    @Flag(help: "Print one JSON object per line instead of a table.")
    var json = false

    @Option(help: "Compute threads (BLAS and element-wise loops); default: the cores of this machine.")
    var threads: Int?
}

/// Prints one result as a JSON line or as an aligned text row.
func emit(_ fields: [(String, Any)], json: Bool) {
    if json {
        let object = Dictionary(uniqueKeysWithValues: fields.map { ($0.0, $0.1) })
        let data = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        print(String(decoding: data, as: UTF8.self))
    } else {
        print(fields.map { key, value in
            if let d = value as? Double { return "\(key) \(String(format: "%.1f", d))" }
            return "\(key) \(value)"
        }.joined(separator: "  "))
    }
}

struct BenchData: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data",
        abstract: "Decode+augment throughput: 500x375 JPEGs to 224x224 views, and 32x32 images.")

    @OptionGroup var options: BenchOptions

    @Option(help: "Seconds measured per figure.")
    var seconds: Double = 2

    func run() throws {
        let threads = options.threads ?? ProcessInfo.processInfo.activeProcessorCount
        for r in benchmarkData(seconds: seconds, threads: threads) {
            emit([("benchmark", r.name), ("images_per_second", r.imagesPerSecond), ("threads", r.threads),
                  ("per_core", r.perCore), ("detail", r.detail)], json: options.json)
        }
    }
}
