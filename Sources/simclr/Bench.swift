import ArgumentParser
import Foundation
import Images
import NN
import Tensors
import Training

/// `simclr bench ...`: throughput benchmarks (never timed assertions in tests).
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure the speed of the kernels, the training step and the data pipeline.",
        subcommands: [BenchConv.self, BenchStep.self, BenchData.self])
}

/// Options every benchmark shares.
struct BenchOptions: ParsableArguments {
    @Flag(help: "Print one JSON object per line instead of a table.")
    var json = false

    @Option(help: "Compute threads (BLAS and element-wise loops); default: the cores of this machine.")
    var threads: Int?

    @Option(help: "How compute threads wait for work: spin (our pool: poll, then sleep; the default) or dispatch (Dispatch's concurrentPerform per call).")
    var threadPool = Threads.Waiting.spin

    /// Configures this process's compute threads from the options.
    func configureThreads() {
        Threads.configure(ComputeOptions.threads(threads), waiting: threadPool)
    }
}

/// Prints one result as a JSON line or as an aligned text row.
func emit(_ fields: [(String, Any)], json: Bool) {
    if json {
        let object = Dictionary(uniqueKeysWithValues: fields.map { ($0.0, $0.1) })
        let data = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        print(String(decoding: data, as: UTF8.self))
    } else {
        print(fields.map { key, value in
            if let d = value as? Double { return "\(key) \(String(format: "%.4g", d))" }
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

struct BenchConv: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conv",
        abstract: "GFLOP/s of each distinct ResNet convolution, forward and backward, beside sgemm on the same shapes.")

    @OptionGroup var options: BenchOptions
    @OptionGroup var network: BenchNetworkOptions
    @Option(help: "Timed rounds, each the convolution and sgemm back to back (medians reported).") var iterations = 9

    func run() throws {
        options.configureThreads()
        let config = try network.model().resNetConfig
        for shape in ConvBenchmark.shapes(of: config, imageSize: network.imageSize) {
            let r = ConvBenchmark.run(shape, batch: network.batchSize, iterations: iterations,
                                      kernels: network.kernels)
            emit([("layer", shape.label), ("forward_gflops", r.forwardGFLOPS), ("backward_gflops", r.backwardGFLOPS),
                  ("sgemm_gflops", r.sgemmForwardGFLOPS), ("sgemm_backward_gflops", r.sgemmBackwardGFLOPS),
                  ("forward_share_of_sgemm", r.forwardShareOfSgemm),
                  ("backward_share_of_sgemm", r.backwardShareOfSgemm)], json: options.json)
        }
    }
}

struct BenchStep: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "step",
        abstract: "Images per second of forward and training steps on random inputs (across ranks under mpirun).")

    @OptionGroup var options: BenchOptions
    @OptionGroup var network: BenchNetworkOptions
    @Flag(help: "The SimCLR step: two views, 512-512-128 head, NT-Xent, SGD.") var simclr = false
    @OptionGroup var batchNorm: BatchNormOptions
    @Option(help: "Timed repetitions (median reported).") var iterations = 5
    @Option(help: "Untimed warm-up steps.") var warmup = 2
    @Flag(help: "Instead of images per second, the time per kind of work (conv, BN, im2col, ...) of the SimCLR step (with --simclr) or of the inference forward pass.")
    var profile = false
    @OptionGroup var allReduce: AllReduceOptions

    func run() throws {
        let json = options.json
        let options = options
        try runJob { comm in
            options.configureThreads()
            let model = try network.model()
            let batchSize = network.batchSize, kernels = network.kernels
            if profile {
                let rows = simclr
                    ? try LayerProfile.run(model: model, batch: batchSize, kernels: kernels, warmup: warmup,
                                           iterations: iterations, bucketFloats: allReduce.bucketFloats,
                                           communicator: comm)
                    : try LayerProfile.runForward(model: model, batch: batchSize, kernels: kernels, warmup: warmup,
                                                  iterations: iterations, communicator: comm)
                guard comm.rank == 0 else { return }
                for row in rows {
                    emit([("kind", row.kind.label), ("seconds", row.seconds), ("share", row.share)], json: json)
                }
                let elementWise = rows.filter { $0.kind.isElementWise }
                emit([("kind", "element-wise (BN, ReLU, residual, pooling)"),
                      ("seconds", elementWise.map(\.seconds).reduce(0, +)),
                      ("share", elementWise.map(\.share).reduce(0, +))], json: json)
                return
            }
            let results = try StepBenchmark.run(model: model, batch: batchSize, simclr: simclr, kernels: kernels,
                                                warmup: warmup, iterations: iterations, bucketFloats: allReduce.bucketFloats,
                                                syncBatchNorm: batchNorm.bn == .sync, communicator: comm)
            guard comm.rank == 0 else { return }
            for r in results {
                var fields: [(String, Any)] = [
                    ("mode", r.mode), ("images_per_second", r.imagesPerSecond), ("ranks", r.ranks),
                    ("threads", Threads.count), ("thread_pool", Threads.waiting.rawValue), ("blas", BLASKernel.coreName),
                    ("arch", model.arch.rawValue), ("width", model.width), ("image_size", model.imageSize), ("batch", batchSize),
                    ("communication_share", r.communicationShare), ("peak_rss_mb", r.peakResidentMegabytes)]
                fields += r.heldMegabytes.map { ("\($0.part)_mb", ($0.megabytes * 10).rounded() / 10) }
                fields.append(("step_seconds", r.stepSeconds.map { ($0 * 1000).rounded() / 1000 }))
                emit(fields, json: json)
            }
        }
    }
}

/// The network and batch a benchmark runs (random inputs of that shape).
struct BenchNetworkOptions: ParsableArguments {
    @OptionGroup var network: ModelOptions
    @Option(help: "Input channels.") var channels = 3
    @Option(help: "Images per step (over all ranks).") var batchSize = 256
    @Option(help: "3x3 stride-1 convolutions with 16 or more channels by winograd (F(4x4, 3x3), the default) or im2col.") var conv3x3 = "winograd"

    @Option(help: "Fewest input and output channels of a convolution that takes the winograd path.")
    var winogradMinChannels = KernelPolicy.default.winogradMinimumChannels
    @Option(help: "The first convolution (fewer input channels than --winograd-min-channels, a multiple of 16 output channels) computed direct (AVX2 and FMA; the default where the CPU has them) or by im2col.")
    var firstLayer = "direct"

    func validate() throws {
        guard winogradMinChannels > 0 else { throw ValidationError("--winograd-min-channels must be positive") }
        guard ["winograd", "im2col"].contains(conv3x3) else {
            throw ValidationError("--conv3x3 takes winograd or im2col, not '\(conv3x3)'")
        }
        guard ["direct", "im2col"].contains(firstLayer) else {
            throw ValidationError("--first-layer takes direct or im2col, not '\(firstLayer)'")
        }
    }

    /// The network to measure.
    func model() throws -> ModelSpec {
        ModelSpec(arch: network.arch ?? .resnet18, width: network.width ?? 1,
                  stem: (network.stem ?? .auto).resolve(imageSize: imageSize), inputChannels: channels,
                  imageSize: imageSize, mean: [], std: [])
    }

    /// `--image-size`, 32 when left out (random inputs have no size of their own).
    var imageSize: Int { network.imageSize ?? 32 }

    /// The convolution paths the measured network takes.
    var kernels: KernelPolicy {
        KernelPolicy(winograd: conv3x3 == "winograd", winogradMinimumChannels: winogradMinChannels,
                     directFirstLayer: firstLayer == "direct" && CPU.hasAVX2AndFMA)
    }
}
