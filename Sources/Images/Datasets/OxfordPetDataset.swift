import Foundation

/// The Oxford-IIIT Pet dataset (Parkhi et al. 2012): `root/images/<Name>.jpg` and
/// `root/annotations/{trainval,test}.txt`, lines `Name class-id species breed-id` (ids from 1).
/// Labels are the 37 breeds (class id - 1) or, optionally, the 2 species. Breed names come from the
/// file names, as torchvision's: `american_bulldog_12` -> `American Bulldog`. Annotation lines whose
/// image is missing are skipped with a warning, like unreadable files.
public final class OxfordPetDataset: FileImageDataset {
    public enum Labels: String, Codable, Sendable {
        case breed, species
    }

    public init(root: String, split: DatasetSplit = .train, labels: Labels = .breed, channels: Int? = 3,
                validation: ImageValidation = .header, skipLog: SkipLog = SkipLog()) throws {
        guard FileImageDataset.isDirectory(root) else { throw DatasetError.notFound(path: root) }
        let listPath = root + "/annotations/" + (split == .train ? "trainval.txt" : "test.txt")
        guard let text = try? String(contentsOfFile: listPath, encoding: .utf8) else {
            throw DatasetError.malformed(path: root, reason: "cannot read annotations/\(split == .train ? "trainval" : "test").txt")
        }
        var candidates: [(path: String, label: Int)] = []
        var breeds: [Int: String] = [:]
        var missing: [String] = []
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\r" })
            if fields.isEmpty || fields[0].hasPrefix("#") { continue }
            guard fields.count >= 3, let classID = Int(fields[1]), let species = Int(fields[2]),
                  classID >= 1, (1...2).contains(species) else {
                throw DatasetError.malformed(path: listPath, reason: "line \(number + 1) is not `name class species breed`")
            }
            let file = String(fields[0])
            breeds[classID] = Self.breedName(file)
            let path = root + "/images/" + file + ".jpg"
            if !FileManager.default.fileExists(atPath: path) {
                missing.append(path)
                continue
            }
            candidates.append((path, labels == .breed ? classID - 1 : species - 1))
        }
        for path in missing { skipLog.record(path, reason: "listed in \(listPath) but missing") }
        let names: [String]
        if labels == .species {
            names = ["Cat", "Dog"]
        } else {
            names = (1...max(breeds.keys.max() ?? 1, 1)).map { breeds[$0] ?? "class \($0)" }
        }
        try super.init(name: "Oxford-IIIT Pet \(root) (\(split.rawValue), \(labels.rawValue))", root: root,
                       candidates: candidates, classNames: names, channels: channels, validation: validation,
                       skipLog: skipLog)
    }

    /// `great_pyrenees_104` -> `Great Pyrenees`.
    static func breedName(_ file: String) -> String {
        var parts = file.split(separator: "_").map(String.init)
        if parts.count > 1, Int(parts.last!) != nil { parts.removeLast() }
        return parts.map { $0.prefix(1).uppercased() + $0.dropFirst().lowercased() }.joined(separator: " ")
    }
}
