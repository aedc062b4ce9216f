import Foundation
import TestSupport
import XCTest

/// Real two-host runs: two network namespaces made by `scripts/netns_hosts.sh`, each with its own
/// address and host name, joined only by TCP through a bridge; mpirun starts the remote rank
/// through the script's rsh agent instead of ssh. Skipped only when namespaces cannot be made.
final class TwoHostTests: XCTestCase {
    var hosts: NetworkNamespaceHosts!
    var script: String { NetworkNamespaceHosts.script }
    var prefix: String { hosts.prefix }
    var scriptEnvironment: [String: String] { hosts.environment }

    override func setUpWithError() throws {
        hosts = try NetworkNamespaceHosts.up()
    }

    override func tearDown() {
        hosts?.down()
        super.tearDown()
    }

    func testOneRankOnEachHost() throws {
        let binary = try BuiltProduct.path("simclr-commcheck")
        let command = [script, "run", "0", "mpirun", "--hostfile", hosts.hostfile, "--mca", "plm_rsh_agent", hosts.agent,
                       "--mca", "btl", "tcp,self", "--mca", "btl_tcp_if_include", hosts.subnet,
                       "--mca", "oob_tcp_if_include", hosts.subnet, "--mca", "mpi_yield_when_idle", "1",
                       "--bind-to", "none", "-np", "2", binary]
        let result = try ChildProcess.run(command, environment: scriptEnvironment, timeout: 90)
        XCTAssertEqual(result.status, 0, result.output)
        var hosts: [Int: String] = [:]
        for line in result.output.split(separator: "\n") where line.hasPrefix("commcheck ok rank ") {
            let words = line.split(separator: " ")  // commcheck ok rank R of P on HOST
            guard words.count == 8, let rank = Int(words[3]), words[5] == "2" else { continue }
            hosts[rank] = String(words[7])
        }
        XCTAssertEqual(hosts.keys.sorted(), [0, 1], result.output)
        XCTAssertNotEqual(hosts[0], hosts[1], "both ranks ran on one host:\n\(result.output)")
        XCTAssertEqual(hosts[0], "\(prefix)-host0")
        XCTAssertEqual(hosts[1], "\(prefix)-host1")
    }

    func testACutCableEndsTheJob() throws {
        // Without TCP keepalives on mpirun's own connections, a lost host hangs the job forever (a
        // watchdog's MPI_Abort cannot reach the lost daemon either); with them it ends in ~10 s.
        // The watchdog's deadline is longer on purpose: it is the keepalive that must act here.
        let binary = try BuiltProduct.path("simclr-commcheck")
        let job = try ChildProcess([script, "mpirun", "-np", "2", "--bind-to", "none",
                                    "--mca", "oob_tcp_keepalive_time", "5", "--mca", "oob_tcp_keepalive_intvl", "2",
                                    "--mca", "oob_tcp_keepalive_probes", "3",
                                    binary, "--watchdog", "30", "--steps", "6000"], environment: scriptEnvironment)
        guard job.waitForOutput("starts 6000 steps", times: 2, timeout: 60) else {
            job.stop()
            return XCTFail("the ranks did not start stepping:\n\(job.output)")
        }
        let cut = try ChildProcess.run([script, "cut", "1"], environment: scriptEnvironment, timeout: 20)
        XCTAssertEqual(cut.status, 0, cut.output)
        let cutAt = Date()
        guard let (status, _) = job.wait(timeout: 60) else {
            return XCTFail("the job did not end within 60 s of the cut:\n\(job.output)")
        }
        let seconds = Date().timeIntervalSince(cutAt)
        XCTAssertNotEqual(status, 0, job.output)
        XCTAssertLessThan(seconds, 30, "the job took \(seconds) s to end after the cut")
        XCTAssertFalse(job.output.contains("commcheck ok"), job.output)
    }
}
