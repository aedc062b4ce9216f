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

    /// Files any one of which makes a folder a run: a new run never writes over them.
    static let runFiles = ["config.json", "metrics.jsonl", "checkpoints/last.safetensors", "checkpoints/best.safetensors",
                           "encoder.safetensors", "summary.json", "report.txt"]

    /// Makes the folder if it is missing and takes it for this job (see `RunFolderLock`); `created`
    /// says whether this job made it.
    func claim() throws -> (lock: RunFolderLock, created: Bool) {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        let existed = fm.fileExists(atPath: url.path, isDirectory: &isDirectory)
        if existed && !isDirectory.boolValue {
            throw TrainingError.invalidOption("--out \(path) is a file, not a folder")
        }
        if !existed {
            do { try fm.createDirectory(at: url, withIntermediateDirectories: true) } catch {
                throw TrainingError.io("cannot create --out \(path): \(Self.reason(error))")
            }
        }
        guard access(url.path, W_OK) == 0 else {
            throw TrainingError.io("cannot write into --out \(path): \(String(cString: strerror(errno)))")
        }
        return (try RunFolderLock(folder: url, path: path), !existed)
    }

    /// A new run: creates `checkpoints/`, writes `config`, and refuses a folder that already holds
    /// any of a run's files. A resumed run: checks that there is a checkpoint to resume from.
    func prepare<Config: Encodable>(config: Config, resume: Bool) throws {
        let fm = FileManager.default
        if resume {
            guard fm.fileExists(atPath: lastCheckpoint.path) else {
                throw TrainingError.unreadableRunFolder(
                    path, "it has no checkpoints/last.safetensors (the run stopped before its first checkpoint: "
                        + "delete the folder, or choose another --out, and start again without --resume)")
            }
            return
        }
        if Self.runFiles.contains(where: { fm.fileExists(atPath: url.appendingPathComponent($0).path) }) {
            throw TrainingError.runFolderExists(path)
        }
        do {
            try fm.createDirectory(at: url.appendingPathComponent("checkpoints"), withIntermediateDirectories: true)
            try AtomicFile.write(try JSONValue.pretty(config), to: url.appendingPathComponent("config.json"))
        } catch {
            throw TrainingError.io("cannot write into --out \(path): \(Self.reason(error))")
        }
    }

    /// After a new run failed before its first checkpoint: removes what it wrote (its config,
    /// metrics, an empty `checkpoints/`, the lock, and the folder itself when the run made it and
    /// nothing else is in it), so that the same command can simply be run again.
    func abandonUnstartedRun(created: Bool) {
        let fm = FileManager.default
        guard !fm.fileExists(atPath: lastCheckpoint.path) else { return }
        for name in ["config.json", "metrics.jsonl", RunFolderLock.fileName] {
            try? fm.removeItem(at: url.appendingPathComponent(name))
        }
        let checkpoints = url.appendingPathComponent("checkpoints")
        if (try? fm.contentsOfDirectory(atPath: checkpoints.path))?.isEmpty == true { try? fm.removeItem(at: checkpoints) }
        if created, (try? fm.contentsOfDirectory(atPath: url.path))?.isEmpty == true { try? fm.removeItem(at: url) }
    }

    /// A file system error as its POSIX reason when it has one ("Permission denied").
    static func reason(_ error: Error) -> String {
        if let posix = (error as NSError).userInfo[NSUnderlyingErrorKey] as? NSError, posix.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(posix.code)))
        }
        return (error as NSError).localizedDescription
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
