import Foundation
import XCTest

/// Finds (or builds) the package's executables (`simclr`, `simclr-commcheck`) and the environments
/// for running them alone or under mpirun.
public enum BuiltProduct {

    /// The package's root folder, from this file's place in it (Tests/TestSupport/).
    public static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    private static let lock = NSLock()
    nonisolated(unsafe) private static var found: [String: String] = [:]

    /// The binary's path: in `$SIMCLR_BIN_DIR`, else beside the test bundle (SwiftPM puts every
    /// product of a build in one folder), else built now with `swift build --product`.
    public static func path(_ name: String) throws -> String {
        lock.lock()
        defer { lock.unlock() }
        if let hit = found[name] { return hit }
        var folders: [URL] = []
        if let dir = ProcessInfo.processInfo.environment["SIMCLR_BIN_DIR"], !dir.isEmpty {
            folders.append(URL(fileURLWithPath: dir))
        }
        for bundle in [Bundle(for: Marker.self), Bundle.main] {
            folders.append(bundle.bundleURL.deletingLastPathComponent())
            if let executable = bundle.executableURL { folders.append(executable.deletingLastPathComponent()) }
        }
        let fm = FileManager.default
        if let hit = folders.map({ $0.appendingPathComponent(name).path }).first(where: fm.isExecutableFile(atPath:)) {
            found[name] = hit
            return hit
        }
        let built = try buildWithSwiftPM(name)
        found[name] = built
        return built
    }

    private final class Marker {}

    /// `swift build --product simclr-commcheck`. Under `swift test` the build folder is locked by
    /// the test command itself, so this only helps when the tests run some other way; there it
    /// fails at once with what to do instead of waiting for the lock.
    private static func buildWithSwiftPM(_ name: String) throws -> String {
        let swift = ["swift", "build", "--package-path", packageRoot.path]
        let advice = "build it first (`swift build --build-tests` or `swift build --product \(name)`), "
            + "or set SIMCLR_BIN_DIR to the folder that holds it"
        let build = try ChildProcess(swift + ["--product", name], environment: ProcessInfo.processInfo.environment)
        if build.waitForOutput("Another instance of SwiftPM", timeout: 5) {
            build.stop()
            throw Failure("\(name) is not built and the build folder is locked by this test run: \(advice)")
        }
        guard let (status, _) = build.wait(timeout: 600), status == 0 else {
            throw Failure("could not build \(name) (\(advice)):\n\(build.output)")
        }
        let binPath = try ChildProcess(swift + ["--show-bin-path"], environment: ProcessInfo.processInfo.environment)
        guard let (status2, _) = binPath.wait(timeout: 120), status2 == 0 else {
            throw Failure("swift build --show-bin-path failed:\n\(binPath.output)")
        }
        let folder = binPath.output.split(separator: "\n").last.map(String.init) ?? ""
        let path = URL(fileURLWithPath: folder).appendingPathComponent(name).path
        guard FileManager.default.isExecutableFile(atPath: path) else { throw Failure("no \(name) in \(folder): \(advice)") }
        return path
    }

    /// The environment for mpirun: this one without the variables of an enclosing MPI job,
    /// allowed to run as root, and without ssh when there is none (the runs are local or use the
    /// namespace agent).
    public static func mpiEnvironment() -> [String: String] {
        var env = ProcessInfo.processInfo.environment.filter { key, _ in
            !(key.hasPrefix("OMPI_") || key.hasPrefix("PMIX_") || key.hasPrefix("PMI_"))
        }
        env["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
        env["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
        let path = env["PATH"] ?? "/usr/bin:/bin"
        let hasSSH = path.split(separator: ":").contains { FileManager.default.isExecutableFile(atPath: "\($0)/ssh") }
        if !hasSSH { env["OMPI_MCA_plm_rsh_agent"] = "" }
        return env
    }

    /// The environment of a plain run (no mpirun): no MPI variables at all.
    public static func plainEnvironment() -> [String: String] {
        ProcessInfo.processInfo.environment.filter { key, _ in
            !(key.hasPrefix("OMPI_") || key.hasPrefix("PMIX_") || key.hasPrefix("PMI_"))
        }
    }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
        public init(_ description: String) { self.description = description }
    }
}
