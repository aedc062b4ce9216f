import Foundation
import XCTest

/// A process started by a test, its standard output and error going to one temporary file (not a
/// pipe: an orphaned MPI daemon that keeps a pipe open would make reading to the end hang).
public final class ChildProcess {
    public let process = Process()
    public let outputURL: URL
    public let started = Date()
    public let commandLine: String

    /// Starts `arguments[0]` (searched on PATH) with the other arguments.
    public init(_ arguments: [String], environment: [String: String]) throws {
        outputURL = FileManager.default.temporaryDirectory
            .appendingPathComponent("simclr-distributed-\(getpid())-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: outputURL.path, contents: nil)
        let output = try FileHandle(forWritingTo: outputURL)
        commandLine = arguments.joined(separator: " ")
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.environment = environment
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        try process.run()
        try output.close()
    }

    deinit {
        if process.isRunning { stop() }
        try? FileManager.default.removeItem(at: outputURL)
    }

    /// Everything written so far.
    public var output: String {
        (try? String(contentsOf: outputURL, encoding: .utf8)) ?? ""
    }

    /// Waits until `text` appears `times` times in the output; false if the process ends first or
    /// `timeout` seconds pass.
    public func waitForOutput(_ text: String, times: Int = 1, timeout: Double) -> Bool {
        let end = Date(timeIntervalSinceNow: timeout)
        while Date() < end {
            if output.components(separatedBy: text).count - 1 >= times { return true }
            if !process.isRunning { return false }
            usleep(50_000)
        }
        return false
    }

    /// Waits for the exit; returns its status and the seconds since the start, or nil (after
    /// stopping the process) if it runs longer than `timeout` seconds.
    public func wait(timeout: Double) -> (status: Int32, seconds: Double)? {
        let end = Date(timeIntervalSinceNow: timeout)
        while process.isRunning && Date() < end { usleep(20_000) }
        if process.isRunning {
            stop()
            return nil
        }
        return (process.terminationStatus, Date().timeIntervalSince(started))
    }

    /// SIGTERM (mpirun forwards it to its ranks), then SIGKILL if that is not enough.
    public func stop() {
        process.terminate()
        let end = Date(timeIntervalSinceNow: 3)
        while process.isRunning && Date() < end { usleep(20_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    /// Runs to the end; fails the test (with the output) if it takes longer than `timeout` seconds.
    public static func run(_ arguments: [String], environment: [String: String], timeout: Double,
                    file: StaticString = #filePath, line: UInt = #line) throws -> (status: Int32, seconds: Double, output: String) {
        let child = try ChildProcess(arguments, environment: environment)
        guard let (status, seconds) = child.wait(timeout: timeout) else {
            XCTFail("still running after \(timeout) s: \(child.commandLine)\n\(child.output)", file: file, line: line)
            return (-1, timeout, child.output)
        }
        return (status, seconds, child.output)
    }
}
