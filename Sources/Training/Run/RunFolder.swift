import Distributed
import Formats
import Foundation

/// The folder a training job writes (`--out`: `config.json`, `metrics.jsonl`,
/// `checkpoints/last.safetensors`, ...), with the rules `Pretrainer` and `FineTuner` share for
/// starting or resuming a run in it. Only rank 0 touches it, inside `Communicator.agree`.
struct RunFolder {
    /// As given on the command line, for messages.
    let path: String
    let url: URL

    init(_ path: String) {
        self.path = path
        url = URL(fileURLWithPath: path)
    }

    /// `checkpoints/last.safetensors`, rewritten as the run goes and read by `--resume`.
    var lastCheckpoint: URL { url.appendingPathComponent("checkpoints/last.safetensors") }

    /// A new run: creates the folder and `checkpoints/`, writes `config`, and refuses a folder
    /// that already holds a run. A resumed run: checks that there is a checkpoint to resume from.
    func prepare<Config: Encodable>(config: Config, resume: Bool) throws {
        let fm = FileManager.default
        let configURL = url.appendingPathComponent("config.json")
        if resume {
            guard fm.fileExists(atPath: lastCheckpoint.path) else {
                throw TrainingError.unreadableRunFolder(path, "it has no checkpoints/last.safetensors")
            }
            return
        }
        if fm.fileExists(atPath: configURL.path) { throw TrainingError.runFolderExists(path) }
        try fm.createDirectory(at: url.appendingPathComponent("checkpoints"), withIntermediateDirectories: true)
        try AtomicFile.write(try JSONValue.pretty(config), to: configURL)
        try? fm.removeItem(at: url.appendingPathComponent("metrics.jsonl"))
    }

    /// Throws unless the config a checkpoint saved (`savedJSON`) decodes and `differences` finds
    /// nothing that would change the run's trajectory; `mayChange` tells the user what may.
    func checkResumable<Config: Decodable>(savedJSON: String, as type: Config.Type, mayChange: String,
                                           differences: (Config) -> [String]) throws {
        let saved: Config
        do { saved = try JSONDecoder().decode(type, from: Data(savedJSON.utf8)) } catch {
            throw TrainingError.unreadableRunFolder(path, "its config was written by another version of this tool")
        }
        let found = differences(saved)
        guard found.isEmpty else {
            throw TrainingError.invalidOption("--resume with settings that differ from the run's: "
                + found.joined(separator: ", ") + " (\(mayChange))")
        }
    }
}

extension Communicator {
    /// Runs `body` on rank 0 and makes every rank throw if it threw, so that no rank waits forever
    /// in a collective for a rank that gave up.
    func agree(_ body: () throws -> Void) throws {
        var message: [UInt8] = []
        if rank == 0 {
            do { try body() } catch { message = Array("\(error)".utf8) }
        }
        broadcastBytes(&message, root: 0)
        if !message.isEmpty { throw TrainingError.io(String(decoding: message, as: UTF8.self)) }
    }
}
