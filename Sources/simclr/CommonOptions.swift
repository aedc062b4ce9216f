import ArgumentParser
import Distributed
import Foundation
import Images
import Training

/// Where the images come from (every command that reads data).
struct DataOptions: ParsableArguments {
    @Option(help: "Dataset path (ImageFolder, Oxford-IIIT Pet, IDX, CIFAR binary, or a folder of images); default: the built-in synthetic set.")
    var data: String?

    @Option(help: "auto, imagefolder, pet, idx, cifar, folder or synthetic.")
    var format = "auto"

    func validate() throws {
        guard DatasetFormat(name: format) != nil else {
            throw ValidationError("unknown --format '\(format)' (expected \(DatasetFormat.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        if let data, !FileManager.default.fileExists(atPath: data) {
            throw ValidationError("--data \(data) does not exist")
        }
    }

    var datasetFormat: DatasetFormat { DatasetFormat(name: format) ?? .auto }
}

/// The network and its input pipeline.
struct ModelOptions: ParsableArguments {
    @Option(help: "resnet18, resnet34 or resnet50.")
    var arch = "resnet18"

    @Option(help: "Width multiplier of every stage (1 = torchvision's widths).")
    var width: Double = 1

    @Option(help: "auto (cifar for images of 64 px or less), imagenet or cifar.")
    var stem = "auto"

    @Option(help: "Side of the square network input; default: the data's own size when it is 64 px or less, else 224.")
    var imageSize: Int?

    @Option(help: "Input normalisation: auto (the data's own mean and std), none, imagenet, or MEAN/STD.")
    var normalize = "auto"

    func validate() throws {
        try validateModelOptions(arch: arch, width: width, stem: stem, imageSize: imageSize)
    }

    var request: ModelRequest {
        ModelRequest(arch: arch, width: width, stem: stem, imageSize: imageSize, normalize: normalize)
    }
}

/// The checks of the network options (`--arch`, `--width`, `--stem`, `--image-size`) every command
/// that takes them makes before reading data or weights; `ModelRequest` decides what they mean.
func validateModelOptions(arch: String?, width: Double?, stem: String?, imageSize: Int?) throws {
    if let arch, !ModelSpec.architectures.contains(arch) {
        throw ValidationError("unknown architecture '\(arch)' (expected \(ModelSpec.architectures.joined(separator: ", ")))")
    }
    if let width, width <= 0 { throw ValidationError("--width must be positive") }
    if let stem, !["auto", "cifar", "imagenet"].contains(stem) {
        throw ValidationError("unknown --stem '\(stem)' (expected auto, imagenet or cifar)")
    }
    if let imageSize, imageSize < 8 { throw ValidationError("--image-size must be at least 8") }
}

/// How a process uses its machine.
struct RuntimeOptions: ParsableArguments {
    @Option(help: "Seed of every random choice (initial weights, data order, augmentations).")
    var seed: UInt64 = 0

    @Option(help: "Compute threads of each rank; default: this machine's cores shared among the ranks on it.")
    var threads: Int?

    @Option(help: "Data-loading threads of each rank.")
    var workers = 1

    @OptionGroup var allReduce: AllReduceOptions

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        guard workers >= 0 else { throw ValidationError("--workers must not be negative") }
    }

    var resolvedThreads: Int { computeThreads(threads) }
}

/// `--bn`: BatchNorm statistics across ranks or per rank (pretraining, and the benchmarked SimCLR step).
struct BatchNormOptions: ParsableArguments {
    @Option(help: "BatchNorm statistics: sync (across ranks) or local.")
    var bn = "sync"

    func validate() throws {
        guard ["sync", "local"].contains(bn) else { throw ValidationError("--bn takes sync or local, not '\(bn)'") }
    }
}

/// How the gradient all-reduce of a training step overlaps its backward pass.
struct AllReduceOptions: ParsableArguments {
    @Option(name: .customLong("allreduce-bucket-mb"),
            help: "Gradient megabytes per all-reduce started during the backward pass (0: one all-reduce after it). With synchronised BatchNorm the pieces follow its all-reduces instead.")
    var bucketMB = Double(BucketedAllReduce.defaultBucketFloats * 4) / 1_000_000

    func validate() throws {
        guard bucketMB >= 0 else { throw ValidationError("--allreduce-bucket-mb must not be negative") }
    }

    /// Gradient floats per overlapped all-reduce; nil for one after the backward pass.
    var bucketFloats: Int? { bucketMB > 0 ? max(1, Int(bucketMB * 1_000_000 / 4)) : nil }
}

/// `--threads`, or this machine's cores shared among the ranks mpirun started on it.
func computeThreads(_ threads: Int?) -> Int {
    if let threads { return threads }
    let local = Int(ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_LOCAL_SIZE"] ?? "") ?? 1
    return max(1, ProcessInfo.processInfo.activeProcessorCount / max(local, 1))
}

/// Runs a job on this process's communicator and turns a user error into one line and a non-zero
/// exit on every rank (an MPI job is aborted so that no rank waits for one that gave up).
func runJob(_ body: (Communicator) throws -> Void) throws {
    let comm = CommunicatorFactory.make()
    do {
        try body(comm)
        comm.finalize()
    } catch {
        let line = "simclr: \(error)"
        if comm.size > 1 {
            comm.abort(code: 1, message: comm.rank == 0 ? line : "simclr: rank \(comm.rank): \(error)")
        }
        writeError(line + "\n")
        throw ExitCode(error is TrainingError && "\(error)".hasPrefix("stopped by") ? 130 : 1)
    }
}
