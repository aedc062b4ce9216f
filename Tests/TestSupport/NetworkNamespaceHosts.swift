import Foundation
import XCTest

/// Two hosts made of network namespaces by `scripts/netns_hosts.sh`, each with its own address and
/// host name, joined only by TCP through a bridge; mpirun reaches the remote one through the
/// script's rsh agent instead of ssh. `up()` skips the calling test, with a printed reason, only when
/// namespaces cannot be made here; always call `down()` (in a `defer` or `tearDown`).
public final class NetworkNamespaceHosts {
    public static let script = BuiltProduct.packageRoot.appendingPathComponent("scripts/netns_hosts.sh").path
    /// Unique per test process, so that two runs of the suite on one machine do not collide.
    public let prefix = "simclr-t\(getpid())"
    public private(set) var hostfile = "", agent = "", subnet = ""
    private var isUp = false

    public var environment: [String: String] {
        var env = BuiltProduct.mpiEnvironment()
        env["SIMCLR_NETNS_PREFIX"] = prefix
        return env
    }

    private init() {}

    /// Creates the hosts, or throws XCTSkip where that is impossible (not root, no `ip`/`unshare`).
    public static func up() throws -> NetworkNamespaceHosts {
        let hosts = NetworkNamespaceHosts()
        guard getuid() == 0 else { try skip("network namespaces need root") }
        for tool in ["ip", "unshare"] {
            let which = try ChildProcess.run(["sh", "-c", "command -v \(tool)"], environment: hosts.environment, timeout: 10)
            if which.status != 0 { try skip("'\(tool)' is not installed") }
        }
        let probe = try ChildProcess.run(["sh", "-c", "ip netns add \(hosts.prefix)-probe && ip netns del \(hosts.prefix)-probe"],
                                         environment: hosts.environment, timeout: 20)
        if probe.status != 0 { try skip("cannot create a network namespace: \(probe.output)") }
        try removeSetsOfDeadRuns(environment: hosts.environment)

        let up = try ChildProcess.run([script, "up"], environment: hosts.environment, timeout: 30)
        hosts.isUp = true
        guard up.status == 0 else {
            hosts.down()
            throw BuiltProduct.Failure("netns_hosts.sh up failed:\n\(up.output)")
        }
        for line in up.output.split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { continue }
            switch parts[0] {
            case "hostfile": hosts.hostfile = parts[1]
            case "agent": hosts.agent = parts[1]
            case "subnet": hosts.subnet = parts[1]
            default: break
            }
        }
        XCTAssertFalse(hosts.hostfile.isEmpty || hosts.agent.isEmpty || hosts.subnet.isEmpty, up.output)
        return hosts
    }

    /// Deletes the namespaces and whatever still runs in them.
    public func down() {
        guard isUp else { return }
        isUp = false
        let down = try? ChildProcess.run([Self.script, "down"], environment: environment, timeout: 30)
        XCTAssertEqual(down?.status, 0, "netns_hosts.sh down failed: \(down?.output ?? "")")
    }

    /// The command line of `mpirun ARGUMENTS` started on host 0 across both hosts, with the options
    /// that work there (TCP on the test subnet, the rsh agent).
    public func mpirun(_ arguments: [String]) -> [String] {
        [Self.script, "mpirun"] + arguments
    }

    /// Deletes namespaces left by an earlier run of the suite that crashed before its clean-up
    /// (their names carry the pid of a process that no longer exists).
    private static func removeSetsOfDeadRuns(environment: [String: String]) throws {
        let list = try ChildProcess.run(["ip", "netns", "list"], environment: environment, timeout: 10)
        var deadPrefixes = Set<String>()
        for line in list.output.split(separator: "\n") {
            let name = line.split(separator: " ").first.map(String.init) ?? ""
            guard name.hasPrefix("simclr-t"), let dash = name.dropFirst(8).firstIndex(of: "-"),
                  let pid = Int32(name[name.index(name.startIndex, offsetBy: 8)..<dash]),
                  pid != getpid(), kill(pid, 0) != 0, errno == ESRCH else { continue }
            deadPrefixes.insert(String(name[..<dash]))
        }
        for dead in deadPrefixes {
            var env = environment
            env["SIMCLR_NETNS_PREFIX"] = dead
            _ = try ChildProcess.run([script, "down"], environment: env, timeout: 30)
        }
    }

    private static func skip(_ reason: String) throws -> Never {
        print("two-host test skipped: \(reason)")
        throw XCTSkip(reason)
    }
}
