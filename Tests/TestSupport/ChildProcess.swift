import Foundation
import Spawn
import XCTest

/// A process started by a test, its standard output and error going to one temporary file (not a
/// pipe: an orphaned MPI daemon that keeps a pipe open would make reading to the end hang).
public final class ChildProcess {
    public let process: SpawnedProcess
    public let outputURL: URL
    public let started = Date()
    public let commandLine: String

    /// Starts `arguments[0]` (searched on the PATH of `environment`) with the other arguments.
    public init(_ arguments: [String], environment: [String: String]) throws {
        outputURL = FileManager.default.temporaryDirectory
            .appendingPathComponent("simclr-distributed-\(getpid())-\(UUID().uuidString).log")
        commandLine = arguments.joined(separator: " ")
        process = try SpawnedProcess(arguments, environment: environment, output: .file(outputURL))
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

    /// Waits for the exit; returns its status (128 + the signal's number when a signal ended it) and
    /// the seconds since the start, or nil (after stopping the process) if it runs longer than
    /// `timeout` seconds or was stopped.
    public func wait(timeout: Double) -> (status: Int32, seconds: Double)? {
        let end = Date(timeIntervalSinceNow: timeout)
        let status: Int32
        switch process.wait(grace: 3, stoppingWhen: { Date() >= end }) {
        case .exited(let code): status = code
        case .signalled(let signal): status = 128 + signal
        case .stopped: return nil
        }
        return (status, Date().timeIntervalSince(started))
    }

    /// SIGTERM to the process's group (mpirun forwards it to its ranks), then SIGKILL if that is not
    /// enough within 3 s.
    public func stop() {
        process.terminate(grace: 3)
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
