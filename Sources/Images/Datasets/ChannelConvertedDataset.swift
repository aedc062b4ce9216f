/// Another dataset's images with gray turned into RGB or RGB into gray (e.g. MNIST for a
/// 3-channel encoder).
public final class ChannelConvertedDataset: ImageDataset {
    public let base: ImageDataset
    public let channels: Int

    public init(_ base: ImageDataset, channels: Int) {
        precondition(channels == 1 || channels == 3, "ChannelConvertedDataset: \(channels) channels")
        self.base = base
        self.channels = channels
    }

    public var name: String { "\(base.name) as \(channels) channels" }
    public var count: Int { base.count }
    public var classNames: [String] { base.classNames }
    public var isInMemory: Bool { base.isInMemory }
    public var skipLog: SkipLog { base.skipLog }
    public func label(at index: Int) -> Int { base.label(at: index) }
    public func source(at index: Int) -> String { base.source(at: index) }
    public func image(at index: Int, minimumSide: Int) throws -> Image {
        try base.image(at: index, minimumSide: minimumSide).converted(toChannels: channels)
    }
}
