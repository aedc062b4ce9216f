import Foundation
import Images
import XCTest

final class DatasetTests: XCTestCase {
    /// cat: 2 good, a good PNG named .jpg, garbage, a GIF named .jpg, empty, a text file; dog: 2 good
    /// (one nested), a truncated JPEG.
    func makeMessyFolder() throws -> TestFolder {
        let folder = TestFolder()
        folder.write("cat/a.jpg", TestFolder.jpeg(1))
        folder.write("cat/b.jpg", TestFolder.jpeg(2))
        folder.write("cat/corrupt.jpg", (0..<300).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) })
        folder.write("cat/png.jpg", try FileBytes(JPEGDecoderTests.fixtureURL("jpeg/png_named.jpg")))
        folder.write("cat/gif.jpg", try FileBytes(JPEGDecoderTests.fixtureURL("jpeg/gif_named.jpg")))
        folder.write("cat/empty.jpg", [])
        folder.write("cat/notes.txt", Array("not an image\n".utf8))
        folder.write("dog/c.jpg", TestFolder.jpeg(3))
        folder.write("dog/nested/d.jpg", TestFolder.jpeg(4))
        let whole = TestFolder.jpeg(5, width: 64, height: 48)
        folder.write("dog/truncated.jpg", Array(whole.prefix(whole.count * 2 / 3)))
        folder.write(".hidden.jpg", TestFolder.jpeg(6))
        return folder
    }

    func testImageFolderKeepsExactlyTheGoodImages() throws {
        let folder = try makeMessyFolder()
        var lines: [String] = []
        let log = SkipLog(printLimit: 2) { lines.append($0) }
        let decoded = try ImageFolderDataset(root: folder.root, validation: .decode, skipLog: log)
        XCTAssertEqual(decoded.classNames, ["cat", "dog"])
        XCTAssertEqual(decoded.paths.map { String($0.dropFirst(folder.root.count)) },
                       ["/cat/a.jpg", "/cat/b.jpg", "/cat/png.jpg", "/dog/c.jpg", "/dog/nested/d.jpg"])
        XCTAssertEqual(decoded.labels, [0, 0, 0, 1, 1])
        XCTAssertEqual(decoded.channels, 3)
        XCTAssertEqual(log.count, 5)
        XCTAssertEqual(lines.count, 3, "\(lines)")   // two warnings, then the count
        XCTAssertEqual(lines.last, "warning: 3 more skipped (5 in total)")
        XCTAssertTrue(log.entries.contains { $0.source.hasSuffix("gif.jpg") && $0.reason == "not a JPEG or PNG (GIF)" })
        XCTAssertTrue(log.entries.contains { $0.source.hasSuffix("truncated.jpg") && $0.reason == "truncated JPEG" })
        XCTAssertEqual(try decoded.image(at: 4).width, 12)
        XCTAssertEqual(try decoded.image(at: 2).width, 37)

        // Header checks cannot see the truncation: that file is kept, and found by the loader.
        let headers = try ImageFolderDataset(root: folder.root, skipLog: SkipLog(printer: { _ in }))
        XCTAssertEqual(headers.count, 6)
        XCTAssertEqual(headers.skipLog.count, 4)
    }

    func testImageFolderSplitsAndGray() throws {
        let folder = TestFolder()
        folder.write("train/a/1.jpg", TestFolder.jpeg(1, channels: 1))
        folder.write("train/b/2.jpg", TestFolder.jpeg(2, channels: 1))
        folder.write("val/a/3.jpg", TestFolder.jpeg(3, channels: 1))
        XCTAssertEqual(try DatasetFormat.detect(path: folder.root), .imageFolder)
        let train = try openDataset(path: folder.root, split: .train)
        let test = try openDataset(path: folder.root, split: .test)
        XCTAssertEqual([train.count, test.count, train.channels], [2, 1, 1])
        XCTAssertEqual(train.classNames, ["a", "b"])
        let rgb = try openDataset(path: folder.root, options: DatasetOptions(channels: 3))
        XCTAssertEqual(try rgb.image(at: 0).channels, 3)
        let flat = TestFolder()
        flat.write("a/1.jpg", TestFolder.jpeg(1))
        XCTAssertThrowsError(try openDataset(path: flat.root, split: .test)) {
            XCTAssertEqual($0 as? DatasetError, .noSplit(path: flat.root, split: .test))
        }
    }

    func testOxfordPetLayout() throws {
        let folder = TestFolder()
        for (k, name) in ["Abyssinian_1", "Abyssinian_2", "american_bulldog_10", "american_bulldog_11"].enumerated() {
            folder.write("images/\(name).jpg", TestFolder.jpeg(k))
        }
        folder.write("annotations/trainval.txt", Array("""
            #Image CLASS-ID SPECIES BREED ID
            Abyssinian_1 1 1 1
            american_bulldog_10 2 2 1
            Bengal_7 3 1 2

            """.utf8))
        folder.write("annotations/test.txt", Array("Abyssinian_2 1 1 1\namerican_bulldog_11 2 2 1\n".utf8))
        XCTAssertEqual(try DatasetFormat.detect(path: folder.root), .oxfordPet)
        let log = SkipLog(printer: { _ in })
        let train = try openDataset(path: folder.root, split: .train, skipLog: log)
        XCTAssertEqual(train.classNames, ["Abyssinian", "American Bulldog", "Bengal"])
        XCTAssertEqual(train.labels, [0, 1])
        XCTAssertEqual(log.count, 1)
        XCTAssertTrue(log.entries[0].reason.contains("missing"))
        let test = try openDataset(path: folder.root, split: .test, options: DatasetOptions(petLabels: .species))
        XCTAssertEqual(test.classNames, ["Cat", "Dog"])
        XCTAssertEqual(test.labels, [0, 1])
        XCTAssertTrue(test.source(at: 1).hasSuffix("images/american_bulldog_11.jpg"))
    }

    /// A malformed annotation line is named by its line number in the file, blank lines counted.
    func testOxfordPetErrorsNameTheFilesLine() throws {
        let folder = TestFolder()
        folder.write("images/Abyssinian_1.jpg", TestFolder.jpeg(0))
        folder.write("annotations/trainval.txt", Array("Abyssinian_1 1 1 1\n\n\nBengal_7 three 1 2\n".utf8))
        XCTAssertThrowsError(try openDataset(path: folder.root, split: .train)) {
            XCTAssertTrue("\($0)".contains("line 4 is not"), "\($0)")
        }
    }

    func testIDXGzipAndRaw() throws {
        let folder = TestFolder("fashion")
        let pixels = (0..<(3 * 4 * 5)).map { UInt8($0 * 4) }
        folder.write("train-images-idx3-ubyte.gz", gzipStored(idx([3, 4, 5], pixels)))
        folder.write("train-labels-idx1-ubyte.gz", gzipStored(idx([3], [7, 0, 9])))
        folder.write("t10k-images-idx3-ubyte", idx([2, 4, 5], Array(pixels.prefix(40))))
        folder.write("t10k-labels-idx1-ubyte", idx([2], [1, 2]))
        XCTAssertEqual(try DatasetFormat.detect(path: folder.root), .idx)
        let train = try openDataset(path: folder.root)
        XCTAssertEqual([train.count, train.channels], [3, 1])
        XCTAssertEqual(train.labels, [7, 0, 9])
        XCTAssertEqual(train.classNames, IDXDataset.fashionClassNames)   // "fashion" is in the path
        let second = try train.image(at: 1)
        XCTAssertEqual([second.width, second.height], [5, 4])
        XCTAssertEqual(second.pixels, Array(pixels[20..<40]))
        let test = try openDataset(path: folder.root, split: .test)
        XCTAssertEqual(test.labels, [1, 2])
        XCTAssertEqual(try openDataset(path: folder.root, options: DatasetOptions(channels: 3)).image(at: 0).channels, 3)

        let bad = TestFolder()
        bad.write("train-images-idx3-ubyte", idx([3, 4, 5], Array(pixels.prefix(50))))
        bad.write("train-labels-idx1-ubyte", idx([3], [1, 2, 3]))
        XCTAssertThrowsError(try openDataset(path: bad.root)) {
            guard case .malformed = $0 as? DatasetError else { return XCTFail("\($0)") }
        }
    }

    func testFashionMNISTFromDebian() throws {
        let path = "/usr/share/datasets/fashion-mnist"
        guard FileManager.default.fileExists(atPath: path + "/t10k-images-idx3-ubyte.gz") else {
            print("skipping the Fashion-MNIST check: \(path) is absent (Debian package dataset-fashion-mnist)")
            throw XCTSkip("\(path) absent")
        }
        let test = try openDataset(path: path, split: .test)
        XCTAssertEqual([test.count, test.channels], [10_000, 1])
        XCTAssertEqual(test.classNames[9], "Ankle boot")
        let image = try test.image(at: 0)
        XCTAssertEqual([image.width, image.height], [28, 28])
        var perClass = [Int](repeating: 0, count: 10)
        for label in test.labels { perClass[label] += 1 }
        XCTAssertEqual(perClass, Array(repeating: 1000, count: 10))
    }

    func testCIFARBinary() throws {
        func record(_ labels: [UInt8], _ seed: Int) -> [UInt8] {
            labels + (0..<3072).map { UInt8(truncatingIfNeeded: $0 / 1024 * 100 + seed + $0 % 7) }
        }
        let ten = TestFolder()
        ten.write("cifar-10-batches-bin/data_batch_1.bin", record([3], 1) + record([9], 2))
        ten.write("cifar-10-batches-bin/data_batch_2.bin", record([0], 3))
        ten.write("cifar-10-batches-bin/test_batch.bin", record([5], 4))
        ten.write("cifar-10-batches-bin/batches.meta.txt", Array("a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n\n".utf8))
        XCTAssertEqual(try DatasetFormat.detect(path: ten.root), .cifar)
        let train = try openDataset(path: ten.root)
        XCTAssertEqual(train.labels, [3, 9, 0])
        XCTAssertEqual(train.classNames.last, "j")
        let image = try train.image(at: 1)
        XCTAssertEqual([image.width, image.height, image.channels], [32, 32, 3])
        // Pixel p of plane c sits at [p, c] after the planes are interleaved.
        let expected: [UInt8] = [0, 1, 2].map { (c: Int) -> UInt8 in
            let i = c * 1024 + 33
            return UInt8(c * 100 + 2 + i % 7)
        }
        XCTAssertEqual(Array(image.pixels[(33 * 3)..<(33 * 3 + 3)]), expected)
        XCTAssertEqual(try openDataset(path: ten.root, split: .test).labels, [5])

        let hundred = TestFolder()
        hundred.write("train.bin", record([1, 42], 0) + record([2, 99], 1))
        hundred.write("test.bin", record([0, 7], 2))
        let c100 = try openDataset(path: hundred.root, format: .cifar)
        XCTAssertEqual(c100.labels, [42, 99])
        XCTAssertEqual(c100.classNames.count, 100)
        hundred.write("test.bin", Array(record([0, 7], 2).prefix(100)))
        XCTAssertThrowsError(try openDataset(path: hundred.root, split: .test))
    }

    func testUnlabelledFolder() throws {
        let folder = TestFolder()
        folder.write("x.jpg", TestFolder.jpeg(1))
        folder.write("deeper/y.JPG", TestFolder.jpeg(2))
        folder.write("deeper/z.txt", Array("hi".utf8))
        XCTAssertEqual(try DatasetFormat.detect(path: folder.root), .folder)
        let set = try openDataset(path: folder.root, skipLog: SkipLog(printer: { _ in }))
        XCTAssertEqual(set.count, 2)
        XCTAssertEqual(set.labels, [-1, -1])
        XCTAssertFalse(set.isLabelled)
        XCTAssertEqual(set.skipLog.count, 1)
    }

    func testSyntheticDataset() throws {
        let a = SyntheticDataset(count: 24, classes: 8, size: 20, channels: 3, seed: 4)
        XCTAssertEqual(try a.image(at: 5), try SyntheticDataset(count: 24, classes: 8, size: 20, seed: 4).image(at: 5))
        XCTAssertNotEqual(try a.image(at: 5), try a.image(at: 13))   // same class, another draw
        XCTAssertNotEqual(try a.image(at: 5), try SyntheticDataset(count: 24, classes: 8, size: 20, seed: 4, split: .test).image(at: 5))
        XCTAssertEqual(a.labels.filter { $0 == 3 }.count, 3)
        XCTAssertEqual(Set(a.classNames).count, 8)
        let gray = try SyntheticDataset(count: 4, classes: 2, size: 9, channels: 1).image(at: 0)
        XCTAssertEqual([gray.channels, gray.width], [1, 9])
        let byDefault = try openDataset(path: nil, split: .test)
        XCTAssertEqual([byDefault.count, byDefault.channels, try byDefault.image(at: 0).width], [512, 3, 32])
    }

    func testOpeningErrorsAreOneLine() throws {
        XCTAssertThrowsError(try openDataset(path: "/nonexistent/data")) {
            XCTAssertEqual($0 as? DatasetError, .notFound(path: "/nonexistent/data"))
        }
        let empty = TestFolder()
        XCTAssertThrowsError(try openDataset(path: empty.root)) {
            guard case .unknownFormat = $0 as? DatasetError else { return XCTFail("\($0)") }
        }
        empty.write("a/bad.jpg", [1, 2, 3])
        XCTAssertThrowsError(try openDataset(path: empty.root, skipLog: SkipLog(printer: { _ in }))) {
            XCTAssertEqual($0 as? DatasetError, .noImages(path: empty.root))
            XCTAssertFalse("\($0)".contains("\n"))
        }
        XCTAssertThrowsError(try openDataset(path: nil, options: DatasetOptions(channels: 2)))
        XCTAssertEqual(DatasetFormat(name: "Pet"), .oxfordPet)
        XCTAssertNil(DatasetFormat(name: "tiff"))
    }

    func testStratifiedSplitAndLabelFraction() {
        let data = SyntheticDataset(count: 100, classes: 10, size: 8)
        let (train, validation) = data.stratifiedSplit(validationFraction: 0.2, seed: 3)
        XCTAssertEqual(Set(train.indices).intersection(validation.indices), [])
        XCTAssertEqual(Set(train.indices).union(validation.indices), Set(0..<100))
        for k in 0..<10 { XCTAssertEqual(validation.labels.filter { $0 == k }.count, 2) }
        XCTAssertEqual(data.stratifiedSplit(validationFraction: 0.2, seed: 3).validation.indices, validation.indices)
        XCTAssertNotEqual(data.stratifiedSplit(validationFraction: 0.2, seed: 4).validation.indices, validation.indices)
        let tenth = train.labelFraction(0.125, seed: 1)
        XCTAssertEqual(tenth.count, 10)
        XCTAssertEqual(Set(tenth.labels), Set(0..<10))
        XCTAssertTrue(Set(tenth.indices.map { train.indices[$0] }).isSubset(of: Set(train.indices)))
    }
}
