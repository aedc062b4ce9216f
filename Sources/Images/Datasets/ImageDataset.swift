import Tensors

/// Which part of a labelled dataset.
public enum DatasetSplit: String, Codable, Sendable, CaseIterable {
    case train, test
}

/// A set of images, optionally labelled. `image(at:)` may be called from several threads at once.
public protocol ImageDataset: AnyObject {
    /// What to call the dataset in reports, e.g. `ImageFolder /data/pets (train)`.
    var name: String { get }
    var count: Int { get }
    /// Channels of every image returned: 1 (gray) or 3 (RGB).
    var channels: Int { get }
    /// Class names indexed by label; empty for an unlabelled dataset.
    var classNames: [String] { get }
    /// The label of sample `index`, or -1 when unlabelled.
    func label(at index: Int) -> Int
    /// The image of sample `index`; `minimumSide` lets a JPEG be decoded at a reduced DCT scale as
    /// long as both sides stay at least that large (0: full size).
    func image(at index: Int, minimumSide: Int) throws -> Image
    /// The file path (or `name#index` id) of sample `index`, for reports and warnings.
    func source(at index: Int) -> String
    /// True when images are already held in memory (no decoding worth caching).
    var isInMemory: Bool { get }
    /// Files skipped while opening (and images the loader later failed to read).
    var skipLog: SkipLog { get }
}

extension ImageDataset {
    public var isLabelled: Bool { !classNames.isEmpty }

    public func image(at index: Int) throws -> Image { try image(at: index, minimumSide: 0) }

    /// All labels in index order.
    public var labels: [Int] { (0..<count).map { label(at: $0) } }

    /// A seeded split that keeps each class's proportion: `validationFraction` of every class
    /// (rounded, at least one sample when the class has two or more, never its last) goes to
    /// validation.
    public func stratifiedSplit(validationFraction: Double, seed: UInt64) -> (train: SubsetDataset, validation: SubsetDataset) {
        precondition((0..<1).contains(validationFraction), "stratifiedSplit: fraction \(validationFraction) outside [0, 1)")
        var train: [Int] = [], validation: [Int] = []
        for (_, members) in membersByClass(seed: seed) {
            var n = Int((validationFraction * Double(members.count)).rounded())
            if validationFraction > 0 && members.count >= 2 { n = max(n, 1) }
            n = min(n, members.count - 1)   // every class keeps a training sample
            validation += members.prefix(n)
            train += members.dropFirst(n)
        }
        return (SubsetDataset(self, indices: train.sorted(), tag: "train \(1 - validationFraction)"),
                SubsetDataset(self, indices: validation.sorted(), tag: "validation \(validationFraction)"))
    }

    /// A seeded subset holding `fraction` of every class (rounded, at least one per class).
    public func labelFraction(_ fraction: Double, seed: UInt64) -> SubsetDataset {
        precondition(fraction > 0 && fraction <= 1, "labelFraction: fraction \(fraction) outside (0, 1]")
        var kept: [Int] = []
        for (_, members) in membersByClass(seed: seed) {
            kept += members.prefix(max(1, Int((fraction * Double(members.count)).rounded())))
        }
        return SubsetDataset(self, indices: kept.sorted(), tag: "\(fraction) of labels")
    }

    /// Indices of each label, each list shuffled by a stream keyed by (seed, label).
    private func membersByClass(seed: UInt64) -> [(Int, [Int])] {
        var groups: [Int: [Int]] = [:]
        for i in 0..<count { groups[label(at: i), default: []].append(i) }
        return groups.keys.sorted().map { label in
            let members = groups[label]!
            var random = RandomStream(seed: seed, epoch: 0x5eed, index: label + 1)
            return (label, random.permutation(members.count).map { members[$0] })
        }
    }
}
