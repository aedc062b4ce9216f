import Foundation
import Spawn
import TestSupport
import XCTest

final class SpawnedProcessTests: XCTestCase {
    var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("spawn-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: folder)
    }

    var log: URL { folder.appendingPathComponent("output.log") }

    func text(of url: URL) -> String {
        (try? String(contentsOf: url, encoding: .utf8)) ?? ""
    }

    /// Runs `sh -c script`, stopping it (and failing) after 20 s.
    func shell(_ script: String) throws -> SpawnedProcess.Ending {
        let child = try SpawnedProcess(["sh", "-c", script], output: .file(log))
        let deadline = Date(timeIntervalSinceNow: 20)
        let ending = child.wait(stoppingWhen: { Date() > deadline })
        XCTAssertNotEqual(ending, .stopped, "sh -c '\(script)' still ran after 20 s")
        return ending
    }

    /// The first number the output file holds, once it holds one (a pid a script printed).
    func awaitPid(in url: URL) throws -> pid_t {
        let deadline = Date(timeIntervalSinceNow: 20)
        while Date() < deadline {
            if let pid = pid_t(text(of: url).split(whereSeparator: \.isWhitespace).first { pid_t($0) != nil } ?? "") {
                return pid
            }
            usleep(20_000)
        }
        return try XCTUnwrap(nil, "no pid in \(url.path) after 20 s: \(text(of: url))")
    }

    /// Whether a `sleep` with this pid is running (not gone, not a zombie), after giving a signal
    /// that was just sent up to 5 s to take effect.
    func sleepIsRunning(_ pid: pid_t, settle: Bool = true) -> Bool {
        let deadline = Date(timeIntervalSinceNow: settle ? 5 : 0)
        repeat {
            let stat = text(of: URL(fileURLWithPath: "/proc/\(pid)/stat"))
            if !(stat.contains("(sleep) ") && !stat.contains(") Z ")) { return false }
            usleep(20_000)
        } while Date() < deadline
        return true
    }

    func testExitStatusesAndSignalEndingsAreReported() throws {
        XCTAssertEqual(try shell("exit 0"), .exited(0))
        XCTAssertEqual(try shell("exit 3"), .exited(3))
        XCTAssertEqual(try shell("kill -KILL $$"), .signalled(SIGKILL))
        XCTAssertEqual(try shell("kill -TERM $$"), .signalled(SIGTERM))
    }

    func testOutputAndErrorAreAppendedToTheFileAndInputIsEmpty() throws {
        try Data("before\n".utf8).write(to: log)
        // `cat` would wait for a terminal or a pipe; /dev/null ends it at once.
        XCTAssertEqual(try shell("echo out; echo err >&2; cat; echo done"), .exited(0))
        XCTAssertEqual(text(of: log), "before\nout\nerr\ndone\n")
    }

    func testAGivenEnvironmentIsTheWholeEnvironmentAndItsPATHIsSearched() throws {
        let bin = folder.appendingPathComponent("bin")
        try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
        let env = try XCTUnwrap(SpawnedProcess.executable("env", searchPath: ProcessInfo.processInfo.environment["PATH"]))
        try FileManager.default.createSymbolicLink(atPath: bin.appendingPathComponent("show-environment").path,
                                                   withDestinationPath: env)
        let child = try SpawnedProcess(["show-environment"], environment: ["PATH": bin.path, "ONLY": "this one"],
                                       output: .file(log))
        XCTAssertEqual(child.wait(), .exited(0))
        XCTAssertEqual(text(of: log).split(separator: "\n").sorted(), ["ONLY=this one", "PATH=\(bin.path)"])
        // Not in this process's PATH.
        XCTAssertThrowsError(try SpawnedProcess(["show-environment"], output: .file(log)))
    }

    func testAProgramThatCannotStartIsAClearError() throws {
        XCTAssertThrowsError(try SpawnedProcess(["simclr-no-such-program"], environment: ["PATH": "/usr/bin:/bin"],
                                                output: .file(log))) {
            XCTAssertEqual("\($0)", "cannot start simclr-no-such-program: no such program in PATH (/usr/bin:/bin)")
        }
        XCTAssertThrowsError(try SpawnedProcess([folder.appendingPathComponent("missing").path], output: .file(log))) {
            XCTAssertEqual("\($0)", "cannot start \(folder.path)/missing: No such file or directory")
        }
        let notExecutable = folder.appendingPathComponent("notes.txt")
        try Data("echo hi\n".utf8).write(to: notExecutable)
        XCTAssertThrowsError(try SpawnedProcess([notExecutable.path], output: .file(log))) {
            XCTAssertEqual("\($0)", "cannot start \(notExecutable.path): Permission denied")
        }
        XCTAssertThrowsError(try SpawnedProcess(["true"], output: .file(folder.appendingPathComponent("no/such/log")))) {
            XCTAssertEqual("\($0)", "cannot write \(folder.path)/no/such/log: No such file or directory")
        }
    }

    func testAStopEndsTheWholeGroupIncludingAGrandchild() throws {
        let child = try SpawnedProcess(["sh", "-c", "sleep 100 & echo $!; wait"], output: .file(log))
        let sleeper = try awaitPid(in: log)
        XCTAssertTrue(child.isRunning)
        XCTAssertTrue(sleepIsRunning(sleeper, settle: false))
        let started = Date()
        XCTAssertEqual(child.wait(grace: 30, stoppingWhen: { true }), .stopped)
        XCTAssertLessThan(Date().timeIntervalSince(started), 10, "SIGTERM alone should end sh and sleep")
        XCTAssertFalse(child.isRunning)
        XCTAssertFalse(sleepIsRunning(sleeper))
    }

    func testAGroupIgnoringSIGTERMIsKilledAfterTheGracePeriod() throws {
        // An ignored signal stays ignored in the background `sleep` too.
        let child = try SpawnedProcess(["sh", "-c", "trap '' TERM; sleep 100 & echo $!; wait"], output: .file(log))
        let sleeper = try awaitPid(in: log)
        let started = Date()
        child.terminate(grace: 0.5)
        let seconds = Date().timeIntervalSince(started)
        XCTAssertGreaterThanOrEqual(seconds, 0.5, "SIGTERM should not have ended it")
        XCTAssertLessThan(seconds, 10)
        XCTAssertEqual(child.wait(), .stopped)
        XCTAssertFalse(sleepIsRunning(sleeper))
    }

    func testTheStopConditionIsAskedWhileTheChildRuns() throws {
        let child = try SpawnedProcess(["sleep", "100"], output: .file(log))
        var asked = 0
        let started = Date()
        XCTAssertEqual(child.wait(poll: 0.01, stoppingWhen: { asked += 1; return asked == 5 }), .stopped)
        XCTAssertEqual(asked, 5)
        XCTAssertLessThan(Date().timeIntervalSince(started), 10)
    }

    /// The parent (simclr-spawncheck) is killed with SIGKILL, so it cannot stop its child itself:
    /// the kernel must, through the child's parent-death signal.
    func testTheChildEndsWhenItsParentIsKilled() throws {
        let spawncheck = try BuiltProduct.path("simclr-spawncheck")
        let parent = try ChildProcess([spawncheck, "sleep", "100"], environment: BuiltProduct.plainEnvironment())
        XCTAssertTrue(parent.waitForOutput("child ", timeout: 20), parent.output)
        let sleeper = try awaitPid(in: parent.outputURL)
        XCTAssertTrue(sleepIsRunning(sleeper, settle: false), parent.output)
        kill(parent.process.pid, SIGKILL)
        XCTAssertEqual(parent.wait(timeout: 20)?.status, 128 + SIGKILL)
        let survived = sleepIsRunning(sleeper)
        if survived { kill(sleeper, SIGKILL) }
        XCTAssertFalse(survived, "the child outlived its killed parent")

        // The parent's output is the child's, and the child's status its own.
        let echo = try ChildProcess.run([spawncheck, "sh", "-c", "echo from the child; exit 4"],
                                        environment: BuiltProduct.plainEnvironment(), timeout: 20)
        XCTAssertEqual(echo.status, 4)
        XCTAssertTrue(echo.output.contains("from the child"), echo.output)
    }
}
