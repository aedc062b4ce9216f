import Foundation
import TestSupport
import XCTest
@testable import Formats

final class AtomicFileTests: XCTestCase {
    private func leftovers(_ folder: URL) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.contains(".tmp-") }
    }

    func testWritesAndReplaces() throws {
        let folder = try temporaryFolder(self)
        let url = folder.appendingPathComponent("config.json")
        try AtomicFile.write(Data("first".utf8), to: url)
        XCTAssertEqual(try String(contentsOf: url, encoding: .utf8), "first")
        try AtomicFile.write(Data("second, longer".utf8), to: url)
        XCTAssertEqual(try String(contentsOf: url, encoding: .utf8), "second, longer")
        try AtomicFile.write(to: url) { out in
            try out.write(Data("a".utf8))
            try Data("bc".utf8).withUnsafeBytes { try out.write($0) }
            XCTAssertEqual(out.count, 3)
        }
        XCTAssertEqual(try String(contentsOf: url, encoding: .utf8), "abc")
        XCTAssertEqual(try leftovers(folder), [])
    }

    func testMissingFolderIsAClearErrorAndWritesNothing() throws {
        let folder = try temporaryFolder(self)
        let url = folder.appendingPathComponent("no/such/folder/model.safetensors")
        XCTAssertThrowsError(try AtomicFile.write(Data("x".utf8), to: url)) { error in
            let e = error as? AtomicFileError
            XCTAssertEqual(e?.stage, .createTemporary)
            XCTAssertEqual(e?.code, ENOENT)
            XCTAssertEqual("\(error)", "cannot write \(url.path): could not create a temporary file in its folder: No such file or directory")
        }
    }

    func testFolderThatIsAFileFails() throws {
        let folder = try temporaryFolder(self)
        let blocker = folder.appendingPathComponent("file")
        try Data().write(to: blocker)
        XCTAssertThrowsError(try AtomicFile.write(Data("x".utf8), to: blocker.appendingPathComponent("out.json"))) {
            XCTAssertEqual(($0 as? AtomicFileError)?.code, ENOTDIR)
        }
    }

    /// A failure in the middle of writing (the body throws) keeps the previous file and cleans up.
    func testFailureWhileWritingKeepsPreviousFile() throws {
        struct Injected: Error {}
        let folder = try temporaryFolder(self)
        let url = folder.appendingPathComponent("checkpoint.safetensors")
        try AtomicFile.write(Data("previous".utf8), to: url)
        XCTAssertThrowsError(try AtomicFile.write(to: url) { out in
            try out.write(Data(repeating: 7, count: 1000))
            throw Injected()
        }) { XCTAssertTrue($0 is Injected) }
        XCTAssertEqual(try String(contentsOf: url, encoding: .utf8), "previous")
        XCTAssertEqual(try leftovers(folder), [])
    }

    /// The write loop reports a full disk (/dev/full answers every write with ENOSPC).
    func testWriteErrorIsReported() throws {
        let fd = open("/dev/full", O_WRONLY)
        try XCTSkipIf(fd < 0, "/dev/full is not available")
        defer { close(fd) }
        let code = Data(repeating: 1, count: 100).withUnsafeBytes { writeAll(fd, $0) }
        XCTAssertEqual(code, ENOSPC)
        let output = AtomicFileOutput(descriptor: fd, path: "/x/model.safetensors")
        XCTAssertThrowsError(try output.write(Data([1, 2, 3]))) { error in
            XCTAssertEqual(error as? AtomicFileError, AtomicFileError(path: "/x/model.safetensors", stage: .write, code: ENOSPC))
            XCTAssertEqual("\(error)", "cannot write /x/model.safetensors: could not write: No space left on device")
        }
    }

    /// A real disk-full on a tiny tmpfs (needs root and permission to mount; skipped otherwise):
    /// the checkpoint that does not fit fails cleanly and the previous one survives.
    func testDiskFullOnSmallTmpfsKeepsPreviousFile() throws {
        try XCTSkipIf(getuid() != 0, "mounting a tmpfs needs root")
        let mountPoint = try temporaryFolder(self).appendingPathComponent("tiny")
        try FileManager.default.createDirectory(at: mountPoint, withIntermediateDirectories: true)
        let environment = BuiltProduct.plainEnvironment()
        let mount = try ChildProcess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", mountPoint.path],
                                         environment: environment, timeout: 20)
        try XCTSkipIf(mount.status != 0, "mount -t tmpfs is not permitted here: \(mount.output)")
        addTeardownBlock {
            _ = try? ChildProcess.run(["umount", mountPoint.path], environment: environment, timeout: 20)
        }
        let url = mountPoint.appendingPathComponent("model.safetensors")
        var small = SafeTensors(metadata: ["format": "pt"])
        small.set("w", shape: [4], floats: [1, 2, 3, 4])
        try small.write(to: url)
        var large = SafeTensors()
        large.set("w", shape: [40_000], floats: [Float](repeating: 1, count: 40_000))  // 160 kB > 64 kB
        XCTAssertThrowsError(try large.write(to: url)) { error in
            XCTAssertEqual((error as? AtomicFileError)?.code, ENOSPC, "\(error)")
        }
        XCTAssertEqual(try SafeTensors(contentsOf: url).floats("w"), [1, 2, 3, 4])
        XCTAssertEqual(try leftovers(mountPoint), [])
    }
}
