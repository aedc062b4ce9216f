import Formats
import Foundation
import Images
import TestSupport
@testable import Training
import XCTest

/// `simclr embed`: one row per image in the dataset's order, the same rows as the encoder in this
/// process, sidecars that line up with the rows, and a PCA plot.
final class EmbedCommandTests: XCTestCase {
    func testCommandWritesOneRowPerImageInDatasetOrderWithSidecars() throws {
        let folder = try temporaryFolder(self)
        let data = folder.appendingPathComponent("data")
        try ColourIDX.write(to: data, trainPerClass: 2, testPerClass: 4)
        let weights = folder.appendingPathComponent("encoder.safetensors")
        try TestEncoders.write(to: weights, prefix: "module.", classifier: true)
        let npy = folder.appendingPathComponent("out/emb.npy"), svg = folder.appendingPathComponent("out/emb.svg")
        let run = try ChildProcess.run(
            [try BuiltProduct.path("simclr"), "embed", "--weights", weights.path, "--data", data.path, "--split", "test",
             "--out", npy.path, "--plot", svg.path, "--batch-size", "5", "--threads", "1"],
            environment: BuiltProduct.plainEnvironment(), timeout: 120)
        XCTAssertEqual(run.status, 0, run.output)
        XCTAssertTrue(run.output.contains("12 x 32 float32"), run.output)

        let array = try NpyFile.read(contentsOf: npy)
        XCTAssertEqual(array.shape, [12, 32])
        let rows = try XCTUnwrap(array.floats)

        // The same encoder in this process, on the same split: row i is image i.
        let encoder = try EmbeddingEncoder(weights: weights.path, request: .init())
        let dataset = try openDataset(path: data.path, format: .idx, split: .test, options: encoder.datasetOptions)
        let (expected, labels) = try encoder.features(of: dataset, batchSize: 12)
        assertClose(rows, expected.array, rtol: 1e-5, atol: 1e-6)
        // Rows differ between images, so an order mix-up would show.
        XCTAssertNotEqual(Array(rows[0..<32]), Array(rows[32..<64]))

        let files = EmbeddingExport.Files(npy: npy)
        let labelLines = try String(contentsOf: files.labels, encoding: .utf8).split(separator: "\n").map { Int($0)! }
        XCTAssertEqual(labelLines, labels)
        XCTAssertEqual(labels, (0..<12).map { $0 % 3 })
        let pathLines = try String(contentsOf: files.paths, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        XCTAssertEqual(pathLines.count, 13)   // 12 rows and the final newline
        for i in 0..<12 {
            XCTAssertEqual(String(pathLines[i]), "\(dataset.source(at: i))\t\(labels[i])\t\(dataset.classNames[labels[i]])")
        }
        let classLines = try String(contentsOf: files.classes, encoding: .utf8).split(separator: "\n").map(String.init)
        XCTAssertEqual(classLines, dataset.classNames)
        let plot = try String(contentsOf: svg, encoding: .utf8)
        XCTAssertEqual(plot.components(separatedBy: "class=\"point\"").count - 1, 12)
        XCTAssertTrue(plot.contains("PC1 ("), plot.prefix(400).description)
    }

    /// Under mpirun the ranks share the forward passes and rank 0 alone writes and prints: the
    /// rows of two ranks are those of one process, and each line appears once.
    func testTwoRanksShareTheWorkAndWriteOnce() throws {
        let folder = try temporaryFolder(self)
        let data = folder.appendingPathComponent("data")
        try ColourIDX.write(to: data, trainPerClass: 4, testPerClass: 3)
        let weights = folder.appendingPathComponent("encoder.safetensors")
        try TestEncoders.write(to: weights)
        let simclr = try BuiltProduct.path("simclr")
        func embed(_ prefix: [String], _ name: String) throws -> (output: String, rows: [Float]) {
            let npy = folder.appendingPathComponent("\(name).npy")
            let run = try ChildProcess.run(prefix + [simclr, "embed", "--weights", weights.path, "--data", data.path,
                                                     "--split", "test", "--out", npy.path, "--batch-size", "4", "--threads", "1"],
                                           environment: BuiltProduct.mpiEnvironment(), timeout: 120)
            XCTAssertEqual(run.status, 0, run.output)
            return (run.output, try XCTUnwrap(try NpyFile.read(contentsOf: npy).floats))
        }
        let one = try embed([], "one")
        let two = try embed(["mpirun", "--quiet", "-np", "2", "--oversubscribe", "--bind-to", "none",
                             "--mca", "btl", "self,vader"], "two")
        assertClose(two.rows, one.rows, rtol: 1e-5, atol: 1e-6)
        XCTAssertEqual(two.output.components(separatedBy: "embedding 9 images").count - 1, 1, two.output)
        XCTAssertEqual(two.output.components(separatedBy: "9 x 32 float32").count - 1, 1, two.output)

        let knn = try ChildProcess.run(["mpirun", "--quiet", "-np", "2", "--oversubscribe", "--bind-to", "none",
                                        "--mca", "btl", "self,vader", simclr, "knn", "--weights", weights.path,
                                        "--data", data.path, "--k", "3", "--threads", "1"],
                                       environment: BuiltProduct.mpiEnvironment(), timeout: 120)
        let alone = try ChildProcess.run([simclr, "knn", "--weights", weights.path, "--data", data.path, "--k", "3",
                                          "--threads", "1"], environment: BuiltProduct.plainEnvironment(), timeout: 120)
        XCTAssertEqual(knn.status, 0, knn.output)
        let top1 = { (text: String) in text.split(separator: "\n").filter { $0.hasPrefix("top-1") } }
        XCTAssertEqual(top1(knn.output), top1(alone.output))
        XCTAssertEqual(top1(knn.output).count, 1, knn.output)
    }
}
