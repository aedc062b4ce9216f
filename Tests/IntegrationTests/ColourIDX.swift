import Foundation
import Tensors

/// A labelled IDX dataset (MNIST's file layout, RGB) whose three classes are images dominated by red,
/// green or blue with noise: classes far apart for any encoder.
enum ColourIDX {
    static let side = 16

    /// Writes `train-*` and `t10k-*` files into `folder`; labels cycle 0, 1, 2.
    static func write(to folder: URL, trainPerClass: Int, testPerClass: Int) throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for (prefix, perClass, seed) in [("train", trainPerClass, UInt64(1)), ("t10k", testPerClass, UInt64(2))] {
            let n = 3 * perClass
            var random = RandomStream(seed: seed, index: 0)
            var images: [UInt8] = [0, 0, 8, 4] + [n, side, side, 3].flatMap(bigEndian)
            var labels: [UInt8] = [0, 0, 8, 1] + bigEndian(n)
            for i in 0..<n {
                let label = i % 3
                labels.append(UInt8(label))
                for _ in 0..<(side * side) {
                    for c in 0..<3 {
                        let base: Float = c == label ? 200 : 40
                        images.append(UInt8(max(0, min(255, base + random.uniform(-35, 35)))))
                    }
                }
            }
            try Data(images).write(to: folder.appendingPathComponent("\(prefix)-images-idx3-ubyte"))
            try Data(labels).write(to: folder.appendingPathComponent("\(prefix)-labels-idx1-ubyte"))
        }
    }

    static func bigEndian(_ v: Int) -> [UInt8] {
        [UInt8(v >> 24 & 0xff), UInt8(v >> 16 & 0xff), UInt8(v >> 8 & 0xff), UInt8(v & 0xff)]
    }
}
