/// Images of one size held in memory as one byte array `pixels: [count, height, width, channels]`,
/// with labels. The base of the binary formats (IDX, CIFAR).
public class InMemoryDataset: ImageDataset {
    public let name: String
    public let classNames: [String]
    public let channels: Int
    public let height: Int
    public let width: Int
    public let skipLog = SkipLog()
    let pixels: [UInt8]
    let labelList: [Int]

    init(name: String, pixels: [UInt8], labels: [Int], height: Int, width: Int, channels: Int, classNames: [String]) {
        precondition(pixels.count == labels.count * height * width * channels,
                     "InMemoryDataset: \(pixels.count) bytes for \(labels.count) images of \(width)x\(height)x\(channels)")
        self.name = name
        self.pixels = pixels
        labelList = labels
        self.height = height
        self.width = width
        self.channels = channels
        self.classNames = classNames
    }

    public var count: Int { labelList.count }
    public var isInMemory: Bool { true }
    public func label(at index: Int) -> Int { labelList[index] }
    public func source(at index: Int) -> String { "\(name)#\(index)" }

    public func image(at index: Int, minimumSide: Int) throws -> Image {
        let n = height * width * channels
        return Image(width: width, height: height, channels: channels,
                     pixels: Array(pixels[index * n ..< (index + 1) * n]))
    }
}
