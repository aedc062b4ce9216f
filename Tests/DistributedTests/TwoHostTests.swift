import Foundation
import XCTest

/// Real two-host runs: two network namespaces made by `scripts/netns_hosts.sh`, each with its own
/// address and host name, joined only by TCP through a bridge; mpirun starts the remote rank
/// through the script's rsh agent instead of ssh. Skipped only when namespaces cannot be made.
final class TwoHostTests: XCTestCase {
    let script = CommCheckBinary.packageRoot.appendingPathComponent("scripts/netns_hosts.sh").path
    /// Unique per test process, so that two runs of the suite on one machine do not collide.
    let prefix = "simclr-t\(getpid())"
    var hostfile = "", agent = "", subnet = ""
    var isUp = false

    var scriptEnvironment: [String: String] {
        var env = CommCheckBinary.mpiEnvironment()
        env["SIMCLR_NETNS_PREFIX"] = prefix
        return env
    }

    override func setUpWithError() throws {
        guard getuid() == 0 else { try skip("network namespaces need root") }
        for tool in ["ip", "unshare"] {
            let which = try ChildProcess.run(["sh", "-c", "command -v \(tool)"], environment: scriptEnvironment, timeout: 10)
            if which.status != 0 { try skip("'\(tool)' is not installed") }
        }
        let probe = try ChildProcess.run(["sh", "-c", "ip netns add \(prefix)-probe && ip netns del \(prefix)-probe"],
                                         environment: scriptEnvironment, timeout: 20)
        if probe.status != 0 { try skip("cannot create a network namespace: \(probe.output)") }

        try removeSetsOfDeadRuns()

        let up = try ChildProcess.run([script, "up"], environment: scriptEnvironment, timeout: 30)
        isUp = true
        guard up.status == 0 else { throw CommCheckBinary.Failure("netns_hosts.sh up failed:\n\(up.output)") }
        for line in up.output.split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { continue }
            switch parts[0] {
            case "hostfile": hostfile = parts[1]
            case "agent": agent = parts[1]
            case "subnet": subnet = parts[1]
            default: break
            }
        }
        XCTAssertFalse(hostfile.isEmpty || agent.isEmpty || subnet.isEmpty, up.output)
    }

    override func tearDown() {
        if isUp {
            let down = try? ChildProcess.run([script, "down"], environment: scriptEnvironment, timeout: 30)
            XCTAssertEqual(down?.status, 0, "netns_hosts.sh down failed: \(down?.output ?? "")")
        }
        super.tearDown()
    }

    /// Deletes namespaces left by an earlier run of this suite that crashed before its tearDown
    /// (their names carry the pid of a process that no longer exists).
    private func removeSetsOfDeadRuns() throws {
        let list = try ChildProcess.run(["ip", "netns", "list"], environment: scriptEnvironment, timeout: 10)
        var deadPrefixes = Set<String>()
        for line in list.output.split(separator: "\n") {
            let name = line.split(separator: " ").first.map(String.init) ?? ""
            guard name.hasPrefix("simclr-t"), let dash = name.dropFirst(8).firstIndex(of: "-"),
                  let pid = Int32(name[name.index(name.startIndex, offsetBy: 8)..<dash]),
                  pid != getpid(), kill(pid, 0) != 0, errno == ESRCH else { continue }
            deadPrefixes.insert(String(name[..<dash]))
        }
        for dead in deadPrefixes {
            var env = scriptEnvironment
            env["SIMCLR_NETNS_PREFIX"] = dead
            _ = try ChildProcess.run([script, "down"], environment: env, timeout: 30)
        }
    }

    private func skip(_ reason: String) throws -> Never {
        print("TwoHostTests skipped: \(reason)")
        throw XCTSkip(reason)
    }

    func testOneRankOnEachHost() throws {
        let binary = try CommCheckBinary.path()
        let command = [script, "run", "0", "mpirun", "--hostfile", hostfile, "--mca", "plm_rsh_agent", agent,
                       "--mca", "btl", "tcp,self", "--mca", "btl_tcp_if_include", subnet,
                       "--mca", "oob_tcp_if_include", subnet, "--mca", "mpi_yield_when_idle", "1",
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
        let binary = try CommCheckBinary.path()
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
