import Foundation
import TestSupport
import XCTest

/// `simclr pretrain` refusing what cannot run, in one line and before anything is written, and
/// `--dry-run` printing the plan without running it.
final class PretrainCommandTests: XCTestCase {
    var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("pretrain-command-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: folder)
    }

    func pretrain(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let result = try ChildProcess.run([try BuiltProduct.path("simclr"), "pretrain", "--width", "0.0625",
                                           "--out", folder.appendingPathComponent("run").path] + arguments,
                                          environment: BuiltProduct.plainEnvironment(), timeout: 120)
        return (result.status, result.output)
    }

    func testRequestsThatCannotRunAreOneLineAndWriteNothing() throws {
        for (arguments, expected) in [
            (["--image-size", "100000"], "not even one image fits"),
            (["--batch-size", "-4"], "--batch-size must be positive"),
            (["--lr", "inf"], "--lr must be a positive number"),
            (["--knn-every", "1", "--knn-data", folder.appendingPathComponent("nowhere").path], "does not exist"),
        ] {
            let result = try pretrain(arguments)
            XCTAssertNotEqual(result.status, 0, arguments.joined(separator: " "))
            XCTAssertTrue(result.output.contains(expected), result.output)
            XCTAssertFalse(result.output.contains("Fatal error") || result.output.contains("Backtrace"), result.output)
            XCTAssertFalse(FileManager.default.fileExists(atPath: folder.appendingPathComponent("run").path))
        }
    }

    func testDryRunPrintsTheSettingsAndTheMemoryAndRunsNothing() throws {
        let result = try pretrain(["--image-size", "16", "--batch-size", "32", "--dry-run"])
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssertTrue(result.output.contains("\"batchSize\" : 32"), result.output)
        XCTAssertTrue(result.output.contains("memory: about"), result.output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder.appendingPathComponent("run").path))
    }
}
