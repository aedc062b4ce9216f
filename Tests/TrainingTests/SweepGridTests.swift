import Foundation
import TestSupport
import Pipelines
@testable import Training
import XCTest

/// What a sweep settles before it runs anything: the cells of its grid and models, the options it
/// refuses, and the command each cell runs unless told otherwise.
final class SweepGridTests: XCTestCase {
    func testGridAndModelsAreParsedAndCheckedBeforeAnythingRuns() throws {
        let folder = try temporaryFolder(self)
        let weights = folder.appendingPathComponent("a.safetensors")
        try Data().write(to: weights)
        let grid = try SweepGrid(grid: " lr=1e-3, 1e-4 ; --batch-size=32;normalize=0.5/0.25 ",
                                 models: "simclr=\(weights.path),random,\(weights.path)")
        XCTAssertEqual(grid.variables.map(\.name), ["lr", "batch-size", "normalize"])
        XCTAssertEqual(grid.models.map(\.name), ["simclr", "random", "a"])
        XCTAssertNil(grid.models[1].weights)
        XCTAssertEqual(grid.cells.map(\.folderName), [
            "simclr-lr=1e-3_batch-size=32_normalize=0.5%2F0.25", "simclr-lr=1e-4_batch-size=32_normalize=0.5%2F0.25",
            "random-lr=1e-3_batch-size=32_normalize=0.5%2F0.25", "random-lr=1e-4_batch-size=32_normalize=0.5%2F0.25",
            "a-lr=1e-3_batch-size=32_normalize=0.5%2F0.25", "a-lr=1e-4_batch-size=32_normalize=0.5%2F0.25",
        ])
        XCTAssertEqual(try SweepGrid(grid: "", models: "random").cells.map(\.folderName), ["random"])
        XCTAssertThrowsError(try grid.checkFixed(["--data", "x", "--lr", "1"])) {
            XCTAssertTrue("\($0)".contains("--lr is swept by --grid"), "\($0)")
        }
        XCTAssertThrowsError(try grid.checkFixed(["--out=x"])) {
            XCTAssertTrue("\($0)".contains("--out is set by the sweep"), "\($0)")
        }
        for (text, models, message) in [
            ("lr", "random", "is not NAME=VALUE"), ("lr=1,1", "random", "lists a value twice"),
            ("lr=1;lr=2", "random", "appears twice"), ("weights=a", "random", "set by the sweep itself"),
            ("lr=", "random", "non-empty values"), ("l r=1", "random", "not an option name"),
            ("", "", "lists no model"), ("", "x=/no/such.safetensors", "do not exist"),
            ("", "random,random", "two models are called 'random'"), ("", "a b=random", "not a model name"),
        ] {
            XCTAssertThrowsError(try SweepGrid(grid: text, models: models), "\(text) \(models)") {
                XCTAssertTrue("\($0)".contains(message), "\(text) \(models): \($0)")
            }
        }
    }

    func testTheDefaultCommandIsThisBinarysFinetune() {
        let command = SweepRunner.selfCommand()
        XCTAssertEqual(command.count, 2)
        XCTAssertTrue(command[0].hasPrefix("/"), command[0])
        XCTAssertTrue(FileManager.default.isExecutableFile(atPath: command[0]), command[0])
        XCTAssertEqual(command[1], "finetune")
    }
}
