import Dispatch
import Foundation
import Tensors

/// Measures decode and augmentation throughput on JPEGs made here (no files needed): decoding a
/// 500x375 JPEG; decoding it and making two 224x224 SimCLR views; two 32x32 views of a 32x32
/// image. Each case runs on 1 thread and on `threads` threads for about `seconds`.
public func benchmarkData(seconds: Double = 1.5, threads: Int = ProcessInfo.processInfo.activeProcessorCount) -> [BenchResult] {
    let photos = (0..<4).map { k -> [UInt8] in
        let image = SyntheticDataset(count: 4, classes: 4, size: 500, channels: 3, seed: 9).render(index: k, width: 500, height: 375)
        return try! JPEGDecoder.encode(image, quality: 90)
    }
    let small = (0..<4).map { try! SyntheticDataset(count: 4, classes: 4, size: 32).image(at: $0) }
    let big = SimCLRAugmentation(size: 224, normalization: .imageNet)
    let tiny = SimCLRAugmentation(size: 32)

    var results: [BenchResult] = []
    let counts = threads > 1 ? [1, threads] : [1]
    for n in counts {
        results.append(measure("decode JPEG 500x375", threads: n, seconds: seconds,
                               detail: "libjpeg-turbo, full size, RGB") { i, _, _ in
            _ = try? JPEGDecoder.decode(photos[i % photos.count])
        })
        results.append(measure("decode + 2 views 500x375 -> 224", threads: n, seconds: seconds,
                               detail: "SimCLR defaults, ImageNet normalisation") { i, scratch, out in
            guard let image = try? JPEGDecoder.decode(photos[i % photos.count], minimumWidth: 224, minimumHeight: 224)
            else { return }
            for v in 0..<2 {
                var random = RandomStream(seed: 1, index: i, view: v)
                big.apply(image, random: &random, into: out, scratch: scratch)
            }
        })
        results.append(measure("2 views 32x32 -> 32", threads: n, seconds: seconds,
                               detail: "SimCLR small-image defaults (s 0.5, no blur)") { i, scratch, out in
            for v in 0..<2 {
                var random = RandomStream(seed: 1, index: i, view: v)
                tiny.apply(small[i % small.count], random: &random, into: out, scratch: scratch)
            }
        })
    }
    return results
}

/// Runs `body(iteration, scratch, output)` on `threads` threads for about `seconds`.
private func measure(_ name: String, threads: Int, seconds: Double, detail: String,
                     _ body: @escaping (Int, AugmentScratch, UnsafeMutablePointer<Float>) -> Void) -> BenchResult {
    var rates = [Double](repeating: 0, count: threads)
    rates.withUnsafeMutableBufferPointer { rates in
        DispatchQueue.concurrentPerform(iterations: threads) { t in
            let scratch = AugmentScratch()
            let out = UnsafeMutablePointer<Float>.allocate(capacity: 224 * 224 * 3)
            defer { out.deallocate() }
            body(t, scratch, out)   // warm-up: scratch buffers grow
            let begin = DispatchTime.now().uptimeNanoseconds
            var i = 0
            while Double(DispatchTime.now().uptimeNanoseconds - begin) < seconds * 1e9 {
                body(t * 1_000_003 + i, scratch, out)
                i += 1
            }
            rates[t] = Double(i) / (Double(DispatchTime.now().uptimeNanoseconds - begin) / 1e9)
        }
    }
    return BenchResult(name: name, imagesPerSecond: rates.reduce(0, +), threads: threads, detail: detail)
}
