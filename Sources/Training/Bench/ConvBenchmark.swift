import Foundation
import NN
import Tensors

/// Forward and backward GFLOP/s of each distinct convolution of a ResNet, beside the rate sgemm alone
/// reaches on the same matrix shapes: how close the convolutions come to the machine's matrix speed.
///
/// A block's downsampling shortcut is timed as the network runs it: its backward pass adds the input
/// gradient into the main path's (`Conv2d.backward(_:addingInputGradientTo:)`).
public enum ConvBenchmark {
    public struct Shape: Hashable {
        public var inChannels, outChannels, kernel, stride, padding, size: Int
        /// Whether this is a block's downsampling shortcut.
        public var shortcut = false
        public var label: String {
            "\(inChannels)->\(outChannels) \(kernel)x\(kernel)/\(stride) @\(size)x\(size)" + (shortcut ? " shortcut" : "")
        }
    }

    /// Rates are medians over the rounds; shares are medians of each round's own ratio, the
    /// convolution and sgemm having run back to back in that round (the machine's speed drifts).
    public struct Result {
        public var shape: Shape
        public var forwardGFLOPS: Double
        public var backwardGFLOPS: Double
        public var sgemmForwardGFLOPS: Double
        public var sgemmBackwardGFLOPS: Double
        public var forwardShareOfSgemm: Double
        public var backwardShareOfSgemm: Double
    }

    /// The distinct convolutions of `config` at `imageSize`, in network order.
    public static func shapes(of config: ResNetConfig, imageSize: Int) -> [Shape] {
        var shapes: [Shape] = []
        func add(_ s: Shape) { if !shapes.contains(s) { shapes.append(s) } }
        var size = imageSize
        let stem = config.stemWidth
        if config.stem == .imagenet {
            add(Shape(inChannels: config.inputChannels, outChannels: stem, kernel: 7, stride: 2, padding: 3, size: size))
            size = (size + 1) / 2
            size = (size + 1) / 2
        } else {
            add(Shape(inChannels: config.inputChannels, outChannels: stem, kernel: 3, stride: 1, padding: 1, size: size))
        }
        var channels = stem
        for (stage, planes) in config.stageWidths.enumerated() {
            for block in 0..<config.depth.blockCounts[stage] {
                let stride = block == 0 && stage > 0 ? 2 : 1
                let out = planes * config.depth.expansion
                if config.depth.usesBottleneck {
                    add(Shape(inChannels: channels, outChannels: planes, kernel: 1, stride: 1, padding: 0, size: size))
                    add(Shape(inChannels: planes, outChannels: planes, kernel: 3, stride: stride, padding: 1, size: size))
                    let after = (size - 1) / stride + 1
                    add(Shape(inChannels: planes, outChannels: out, kernel: 1, stride: 1, padding: 0, size: after))
                } else {
                    add(Shape(inChannels: channels, outChannels: planes, kernel: 3, stride: stride, padding: 1, size: size))
                    let after = (size - 1) / stride + 1
                    add(Shape(inChannels: planes, outChannels: planes, kernel: 3, stride: 1, padding: 1, size: after))
                }
                if stride != 1 || channels != out {
                    add(Shape(inChannels: channels, outChannels: out, kernel: 1, stride: stride, padding: 0, size: size,
                              shortcut: true))
                }
                size = (size - 1) / stride + 1
                channels = out
            }
        }
        return shapes
    }

    /// The convolution of `shape` on the paths `kernels` allows.
    public static func run(_ shape: Shape, batch: Int, iterations: Int, kernels: KernelPolicy = .default) -> Result {
        let store = ParameterStore()
        let conv = Conv2d(store, name: "conv", inChannels: shape.inChannels, outChannels: shape.outChannels,
                          kernelSize: shape.kernel, stride: shape.stride, padding: shape.padding, kernels: kernels)
        store.finalize(seed: 0)
        let x = StepBenchmark.randomInput([batch, shape.size, shape.size, shape.inChannels], seed: 1)
        let y = conv.forward(x, mode: .training)
        let dy = StepBenchmark.randomInput(y.shape, seed: 2)
        let dxMain = StepBenchmark.randomInput(x.shape, seed: 5)
        let rows = Double(y.count / shape.outChannels)
        let patch = shape.kernel * shape.kernel * shape.inChannels
        let flops = 2 * rows * Double(shape.outChannels * patch)

        // sgemm alone on the same shapes: forward y = col·Wᵀ; backward dW += dyᵀ·col and dcol = dy·W.
        let m = Int(rows), n = shape.outChannels, k = patch
        let a = StepBenchmark.randomInput([m, k], seed: 3), w = StepBenchmark.randomInput([n, k], seed: 4)
        let c = Tensor(zeros: [m, n]), dW = Tensor(zeros: [n, k])
        let steps: [() -> Void] = [
            { _ = conv.forward(x, mode: .training) },
            {
                _ = conv.forward(x, mode: .training)
                if shape.shortcut { conv.backward(dy, addingInputGradientTo: dxMain) } else { _ = conv.backward(dy) }
            },
            { gemm(transB: true, m: m, n: n, k: k, a: a.data, b: w.data, c: c.data) },
            {
                gemm(transA: true, m: n, n: k, k: m, a: c.data, b: a.data, beta: 1, c: dW.data)
                gemm(m: m, n: k, k: n, a: c.data, b: w.data, c: a.data)
            },
        ]
        // Each round times the four back to back; the first round only warms up.
        var rounds: [(forward: Double, backward: Double, gemmForward: Double, gemmBackward: Double)] = []
        for round in 0...iterations {
            let t = steps.map { step in
                let t0 = Date()
                step()
                return Date().timeIntervalSince(t0)
            }
            if round > 0 { rounds.append((t[0], t[1] - t[0], t[2], t[3])) }
        }
        func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
        return Result(shape: shape,
                      forwardGFLOPS: flops / median(rounds.map(\.forward)) / 1e9,
                      backwardGFLOPS: 2 * flops / median(rounds.map(\.backward)) / 1e9,
                      sgemmForwardGFLOPS: flops / median(rounds.map(\.gemmForward)) / 1e9,
                      sgemmBackwardGFLOPS: 2 * flops / median(rounds.map(\.gemmBackward)) / 1e9,
                      forwardShareOfSgemm: median(rounds.map { $0.gemmForward / $0.forward }),
                      backwardShareOfSgemm: median(rounds.map { $0.gemmBackward / $0.backward }))
    }
}
