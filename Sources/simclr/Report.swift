import ArgumentParser
import Foundation
import Training

struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write RUN_DIR/index.html: one self-contained page with the run's settings, curves, reports and pictures.")

    @Argument(help: "A run folder (holding config.json).")
    var runDirectory: String

    func run() throws {
        do {
            let url = try RunReport.write(runDirectory: URL(fileURLWithPath: runDirectory))
            print(url.path)
        } catch {
            writeError("simclr: \(error)\n")
            throw ExitCode(1)
        }
    }
}
