/// Some samples of another dataset, in the order of `indices` (a split or a label fraction).
public final class SubsetDataset: ImageDataset {
    public let base: ImageDataset
    /// Indices into `base`.
    public let indices: [Int]
    public let name: String

    public init(_ base: ImageDataset, indices: [Int], tag: String) {
        precondition(indices.allSatisfy { (0..<base.count).contains($0) }, "SubsetDataset: index out of range")
        self.base = base
        self.indices = indices
        name = "\(base.name) [\(tag): \(indices.count)]"
    }

    public var count: Int { indices.count }
    public var channels: Int { base.channels }
    public var classNames: [String] { base.classNames }
    public var isInMemory: Bool { base.isInMemory }
    public var skipLog: SkipLog { base.skipLog }
    public func label(at index: Int) -> Int { base.label(at: indices[index]) }
    public func image(at index: Int, minimumSide: Int) throws -> Image {
        try base.image(at: indices[index], minimumSide: minimumSide)
    }
    public func source(at index: Int) -> String { base.source(at: indices[index]) }
}
