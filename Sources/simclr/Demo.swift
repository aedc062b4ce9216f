import ArgumentParser
import Foundation
import Pipelines
import Training

struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "SimCLR on real images end to end: pretraining, linear evaluation, k-NN, 1% and 10% labels, baselines.",
        discussion: "Running it again continues where it stopped (Ctrl-C stops it cleanly).")

    @Option(help: "Dataset; default: Debian's Fashion-MNIST when installed, else the built-in synthetic set.")
    var data: String?
    @Option(help: "Run folder of the demo.")
    var out = "runs/demo"
    @Option(help: "Width multiplier of the ResNet-18.")
    var width: Double = 0.25
    @Option(help: "Images per pretraining step.")
    var batchSize = 256
    @Option(help: "Epochs of the pretraining schedule.")
    var epochs = 1
    @Option(help: "Stop the pretraining after this many steps (the schedule still spans --epochs).")
    var steps: Int?
    @Option(help: "Epochs of each fine-tuning run.")
    var finetuneEpochs = 20
    @Option(parsing: .upToNextOption, help: "Label fractions of the fine-tuning stages (e.g. 0.01 0.1).")
    var labelFractions: [Double] = [0.01]
    @Option(help: "Seed of every random choice.")
    var seed: UInt64 = 0

    static let fashionMNIST = "/usr/share/datasets/fashion-mnist"

    func run() throws {
        var dataPath = data
        if dataPath == nil {
            if FileManager.default.fileExists(atPath: Self.fashionMNIST) {
                dataPath = Self.fashionMNIST
            } else {
                writeError("demo: Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist); "
                    + "using the built-in synthetic set instead\n")
            }
        }
        let binary = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
        let pipeline = DemoPipeline(binary: binary, data: dataPath, out: URL(fileURLWithPath: out), width: width,
                                    batchSize: batchSize, pretrainEpochs: epochs, pretrainSteps: steps,
                                    finetuneEpochs: finetuneEpochs, labelFractions: labelFractions, seed: seed)
        do {
            let rows = try pipeline.run()
            print(DemoPipeline.table(rows))
        } catch {
            writeError("simclr: \(error)\n")
            throw ExitCode(1)
        }
    }
}
