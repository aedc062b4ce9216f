import ArgumentParser
import Images
@testable import Training
import XCTest

/// The defaults pretraining resolves for small and large images (`scripts/study.sh` chose the
/// small-image ones), that explicit options win, and that out-of-range options are refused naming
/// the option; read from the library as `simclr pretrain` parses and resolves them.
final class PretrainDefaultsTests: XCTestCase {
    /// The config `simclr pretrain ARGUMENTS` resolves for a network of `imageSize` pixels.
    func config(imageSize: Int, batch: Int, extra: [String] = []) throws -> PretrainConfig {
        let options = try PretrainOptions.parse(["--batch-size", String(batch)] + extra)
        let model = ModelSpec(arch: .resnet18, width: 0.0625, stem: StemChoice.auto.resolve(imageSize: imageSize),
                              inputChannels: 3, imageSize: imageSize, mean: [], std: [])
        return options.config(data: try DataOptions.parse([]), model: model, seed: 0)
    }

    func testSmallImagesUseTheSquareRootRateAndMilderCrops() throws {
        let c = try config(imageSize: 16, batch: 16)
        XCTAssertEqual(c.optimizer, .lars)
        XCTAssertEqual(c.lr, 0.075 * 4, accuracy: 1e-6)   // 0.075 sqrt(16)
        XCTAssertEqual(c.temperature, 0.2, accuracy: 1e-6)
        XCTAssertEqual(c.augmentation.cropScale, 0.3...1)
        XCTAssertEqual(c.augmentation.jitterStrength, 1, accuracy: 1e-6)
        XCTAssertEqual(c.augmentation.blurProbability, 0)
        XCTAssertEqual(c.warmupEpochs, 10, accuracy: 1e-9)   // min(10, 100 epochs / 10)
        XCTAssertEqual(c.projectionHidden, 32)               // the encoder's features at width 1/16
        XCTAssertEqual(c.model.stem, .cifar)
    }

    func testLargeImagesKeepSimCLRsLinearRateAndCrops() throws {
        let c = try config(imageSize: 72, batch: 4, extra: ["--epochs", "20"])
        XCTAssertEqual(c.lr, 0.3 * 4 / 256, accuracy: 1e-7)
        XCTAssertEqual(c.temperature, 0.1, accuracy: 1e-6)
        XCTAssertEqual(c.augmentation.cropScale.lowerBound, 0.08, accuracy: 1e-6)
        XCTAssertEqual(c.warmupEpochs, 2, accuracy: 1e-9)
        XCTAssertEqual(c.model.stem, .imagenet)
    }

    func testAdamTakesItsOwnRate() throws {
        XCTAssertEqual(try config(imageSize: 16, batch: 256, extra: ["--optimizer", "adamw"]).lr, 1e-3)
    }

    func testExplicitOptionsWin() throws {
        let c = try config(imageSize: 16, batch: 16, extra: ["--lr", "0.05", "--crop-scale", "0.5", "--strength", "0.5",
                                                              "--temperature", "0.5", "--warmup-epochs", "0"])
        XCTAssertEqual(c.lr, 0.05, accuracy: 1e-7)
        XCTAssertEqual(c.augmentation.jitterStrength, 0.5, accuracy: 1e-6)
        XCTAssertEqual(c.temperature, 0.5, accuracy: 1e-6)
        XCTAssertEqual(c.augmentation.cropScale, 0.5...1)
        XCTAssertEqual(c.warmupEpochs, 0)
    }

    /// Each bad value is refused by the option group, with a message that names the option.
    func testOutOfRangeOptionsAreRefusedNamingTheOption() {
        for (arguments, option) in [
            (["--crop-scale", "1.5"], "--crop-scale"), (["--lr", "inf"], "--lr"), (["--lr", "-1"], "--lr"),
            (["--temperature", "nan"], "--temperature"), (["--batch-size", "0"], "--batch-size"),
            (["--proj-layers", "4"], "--proj-layers"), (["--checkpoint-every", "-1"], "--checkpoint-every"),
            (["--optimizer", "adagrad"], "--optimizer"), (["--bn", "global"], "--bn"),
        ] {
            XCTAssertThrowsError(try PretrainOptions.parse(arguments), arguments.joined(separator: " ")) {
                let message = PretrainOptions.message(for: $0)
                XCTAssertTrue(message.contains(option), "\(arguments): \(message)")
            }
        }
        XCTAssertNoThrow(try PretrainOptions.parse(["--lr", "0.5", "--crop-scale", "1"]))
    }

    func testModelOptionsParseTypedChoices() throws {
        let model = try ModelOptions.parse(["--arch", "resnet50", "--stem", "imagenet", "--normalize", "0.5,0.4,0.3/0.2,0.2,0.2"])
        XCTAssertEqual(model.arch, .resnet50)
        XCTAssertEqual(model.stem, .imagenet)
        XCTAssertEqual(model.normalize, .explicit(mean: [0.5, 0.4, 0.3], std: [0.2, 0.2, 0.2]))
        for bad in [["--arch", "resnet51"], ["--normalize", "0.5/0"], ["--normalize", "0.5/0.2,0.3"], ["--width", "nan"],
                    ["--image-size", "4"]] {
            XCTAssertThrowsError(try ModelOptions.parse(bad), bad.joined(separator: " "))
        }
    }
}
