import Foundation
import TestSupport
import XCTest

/// `./launch doctor` and the host checks of `./launch`, started on the first of two network-namespace
/// hosts (`scripts/netns_hosts.sh`) whose hostfile lists their addresses; the other host is reached
/// through the namespaces' rsh agent, given as Open MPI's `OMPI_MCA_plm_rsh_agent`, as ssh would be.
final class LaunchDoctorTests: XCTestCase {
    var hosts: NetworkNamespaceHosts!
    let launchScript = BuiltProduct.packageRoot.appendingPathComponent("launch").path
    /// Open MPI's data ports, pinned so that a test can close them.
    let dataPorts = (first: 30_016, count: 16)

    override func setUpWithError() throws {
        hosts = try NetworkNamespaceHosts.up()
    }

    override func tearDown() {
        hosts?.down()
        super.tearDown()
    }

    /// Runs `./launch ARGUMENTS` on host 0 with the built binaries, remote commands going through
    /// `runner` (the namespaces' agent, or nil for ssh) and Open MPI kept on the hosts' subnet.
    func launch(_ arguments: [String], runner: String?, timeout: Double) throws -> (status: Int32, seconds: Double, output: String) {
        var env = hosts.environment
        env["SIMCLR_BIN_DIR"] = URL(fileURLWithPath: try BuiltProduct.path("simclr")).deletingLastPathComponent().path
        _ = try BuiltProduct.path("simclr-commcheck")
        env["OMPI_MCA_plm_rsh_agent"] = runner
        env["SIMCLR_MPI_OPTIONS"] = ["--mca", "btl_tcp_if_include", hosts.subnet, "--mca", "oob_tcp_if_include", hosts.subnet,
                                     "--mca", "btl_tcp_port_min_v4", "\(dataPorts.first)",
                                     "--mca", "btl_tcp_port_range_v4", "\(dataPorts.count)"].joined(separator: " ")
        return try ChildProcess.run([NetworkNamespaceHosts.script, "run", "0", launchScript] + arguments,
                                    environment: env, timeout: timeout)
    }

    /// Host N's address (0-based), from the hosts' subnet.
    func address(_ n: Int) -> String {
        hosts.subnet.split(separator: ".").prefix(3).joined(separator: ".") + ".\(n + 1)"
    }

    func lines(_ output: String, startingWith prefix: String) -> [String] {
        output.split(separator: "\n").map(String.init).filter { $0.hasPrefix(prefix) }
    }

    func testDoctorPassesAcrossTwoHosts() throws {
        let doctor = try launch(["doctor", "--hosts", hosts.hostfile, "--timeout", "30"], runner: hosts.agent, timeout: 55)
        XCTAssertEqual(doctor.status, 0, doctor.output)
        XCTAssertEqual(lines(doctor.output, startingWith: "FAILED"), [], doctor.output)
        let passed = lines(doctor.output, startingWith: "ok ")
        for check in ["orted on \(address(1))", "same simclr and simclr-commcheck on \(address(1))",
                      "every library simclr needs on \(address(1))", "all-reduce across 2 ranks, one per host",
                      "2-step pretraining on 2 ranks, one per host, gives one process's losses"] {
            XCTAssertTrue(passed.contains { $0.contains(check) }, "no passed check '\(check)':\n\(doctor.output)")
        }
        let link = try XCTUnwrap(passed.first { $0.contains("link: ") }, doctor.output)
        let figures = link.split(separator: " ").compactMap { Double($0) }
        XCTAssertTrue(link.contains(" MB/s ") && link.contains(" us "), link)
        XCTAssertGreaterThan(figures.first ?? 0, 0, link)
    }

    func testDoctorFailsTheAllReduceWhenTheDataPortsAreClosed() throws {
        let last = dataPorts.first + dataPorts.count - 1
        let block = try ChildProcess.run([NetworkNamespaceHosts.script, "block", "1", "\(dataPorts.first)-\(last)"],
                                         environment: hosts.environment, timeout: 30)
        XCTAssertEqual(block.status, 0, block.output)
        let doctor = try launch(["doctor", "--hosts", hosts.hostfile, "--timeout", "15"], runner: hosts.agent, timeout: 55)
        XCTAssertNotEqual(doctor.status, 0, doctor.output)
        // The hosts themselves are fine: only the all-reduce fails, within the timeout.
        let failed = lines(doctor.output, startingWith: "FAILED")
        XCTAssertEqual(failed.count, 1, doctor.output)
        XCTAssertTrue(failed.first?.hasPrefix("FAILED  all-reduce across \(address(0)) \(address(1)): did not finish within 15 s") ?? false,
                      doctor.output)
        XCTAssertTrue(lines(doctor.output, startingWith: "ok ").contains { $0.contains("same simclr") }, doctor.output)
        XCTAssertLessThan(doctor.seconds, 45, doctor.output)
    }

    func testAHostfileOfAddressesRunsAcrossThem() throws {
        let out = try temporaryFolder(self).appendingPathComponent("run").path
        let run = try launch(["--hosts", hosts.hostfile, "pretrain", "--arch", "resnet18", "--width", "0.125", "--stem", "cifar",
                              "--image-size", "32", "--batch-size", "8", "--steps", "1", "--epochs", "1", "--threads", "1",
                              "--out", out], runner: hosts.agent, timeout: 55)
        XCTAssertEqual(run.status, 0, run.output)
        XCTAssertTrue(run.output.contains("running across \(address(0)) \(address(1)) with mpirun"), run.output)
        XCTAssertTrue(run.output.contains("2 rank(s)"), run.output)
        XCTAssertFalse(run.output.contains("this machine only"), run.output)
    }

    func testAnAddressThatCannotBeUsedIsNamedWithTheReason() throws {
        guard let ssh = ProcessInfo.processInfo.environment["PATH"]?.split(separator: ":").map({ "\($0)/ssh" })
            .first(where: FileManager.default.isExecutableFile(atPath:)) else { throw XCTSkip("no ssh client") }
        // Host 1 exists but runs no sshd; the third address is no host at all.
        let hostfile = try temporaryFolder(self).appendingPathComponent("hosts")
        try "\(address(0)) slots=1\n\(address(1)) slots=1\n\(address(98)) slots=1\n".write(to: hostfile, atomically: true, encoding: .utf8)
        let run = try launch(["--hosts", hostfile.path, "--help"], runner: ssh, timeout: 55)
        XCTAssertEqual(run.status, 0, run.output)
        XCTAssertTrue(run.output.contains("cannot use \(address(1)) (from \(hostfile.path)): ssh refused the connection"), run.output)
        XCTAssertTrue(run.output.contains("cannot use \(address(98)) (from \(hostfile.path)): no route to it"), run.output)
        XCTAssertFalse(run.output.contains("cannot use \(address(0)) "), run.output)
        XCTAssertTrue(run.output.contains("running on this machine only"), run.output)
    }
}
