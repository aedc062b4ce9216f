import Foundation
@testable import NN
import Tensors
import TestSupport
import XCTest

/// sin(a·i + b), the closed form the reference script fills everything with.
private func wave(_ i: Int, _ a: Double, _ b: Double) -> Double { sin(a * Double(i) + b) }

/// For each flat index of a tensor in torchvision's layout, the index of the same element in ours.
private func internalIndex(torchShape s: [Int], convOHWI: Bool) -> [Int] {
    guard convOHWI else { return Array(0..<s.reduce(1, *)) }
    let (co, ci, kh, kw) = (s[0], s[1], s[2], s[3])
    var map = [Int](repeating: 0, count: co * ci * kh * kw)
    var t = 0
    for o in 0..<co { for c in 0..<ci { for y in 0..<kh { for x in 0..<kw {
        map[t] = ((o * kh + y) * kw + x) * ci + c
        t += 1
    } } } }
    return map
}

/// Σ values·S and ‖values‖ with S the script's float32 sine vector for tensor position k.
private func projection(_ values: UnsafePointer<Float>, torchShape: [Int], convOHWI: Bool, k: Int) -> (Double, Double) {
    let map = internalIndex(torchShape: torchShape, convOHWI: convOHWI)
    var p = 0.0, n = 0.0
    for (t, i) in map.enumerated() {
        let v = Double(values[i])
        p += v * Double(Float(wave(t, 0.53, 0.9 * Double(k) + 0.1)))
        n += v * v
    }
    return (p, n.squareRoot())
}

final class TorchReferenceTests: XCTestCase {
    private func check(_ reference: TorchReferenceCase, _ config: ResNetConfig, file: StaticString = #filePath, line: UInt = #line) {
        let store = ParameterStore()
        let model = ResNet(config, store: store, kernels: .default)
        store.finalize(seed: 0)
        XCTAssertEqual(store.parameters.map(\.name), reference.parameterGradients.map(\.0), file: file, line: line)
        XCTAssertEqual(store.buffers.map(\.name).filter { !$0.hasSuffix("num_batches_tracked") },
                       reference.runningStatistics.map(\.0), file: file, line: line)
        for (k, p) in store.parameters.enumerated() {
            let fanIn = p.count / p.shape[0]
            for (t, i) in internalIndex(torchShape: p.exportShape, convOHWI: p.layout == .convOHWI).enumerated() {
                let s = wave(t, 0.7, 1.3 * Double(k) + 0.5)
                switch p.role {
                case .weight, .bias: p.value[i] = Float((3.0 / Double(fanIn)).squareRoot() * s)
                case .normWeight: p.value[i] = Float(1 + s / 4)
                case .normBias: p.value[i] = Float(s / 4)
                }
            }
            if p.name.hasSuffix(config.depth.usesBottleneck ? ".bn3.weight" : ".bn2.weight") {
                for i in 0..<p.count { p.value[i] *= reference.lastBatchNormScale }
            }
        }
        let s = reference.inputShape
        let (n, c, h, w) = (s[0], s[1], s[2], s[3])
        let x = Tensor(zeros: [n, h, w, c])
        var t = 0
        for i in 0..<n { for ch in 0..<c { for y in 0..<h { for xx in 0..<w {
            x[((i * h + y) * w + xx) * c + ch] = Float(wave(t, 0.37, 0.2))
            t += 1
        } } } }

        store.zeroGrad()
        let features = model.forward(x, mode: .training)
        assertClose(features.array, reference.features, rtol: 5e-4, atol: 1e-4, "training features", file: file, line: line)
        let r = Tensor(shape: features.shape, values: (0..<features.count).map { Float(wave($0, 0.91, 0.4)) })
        let dx = model.backward(r)

        // A projection and a norm agree when both are within a small fraction of the norm, or of
        // 1e-4 of the largest gradient norm for gradients that are zero in exact arithmetic (e.g. the
        // ImageNet stem's bn1.bias when its ReLU passes everything: every later BN cancels the shift).
        let floor = 1e-4 * reference.parameterGradients.map(\.2).max()!
        func agree(_ ours: (Double, Double), _ theirs: (Double, Double), _ label: String) {
            let scale = max(theirs.1, floor)
            XCTAssertLessThan(abs(ours.0 - theirs.0) / scale, 2e-3, "\(label) projection \(ours.0) vs \(theirs.0)", file: file, line: line)
            XCTAssertLessThan(abs(ours.1 - theirs.1) / scale, 1e-3, "\(label) norm \(ours.1) vs \(theirs.1)", file: file, line: line)
        }
        // [N, C, H, W] -> [N, H, W, C] is the same move as [Cout, Cin, kh, kw] -> [Cout, kh, kw, Cin].
        agree(projection(dx.data, torchShape: [n, c, h, w], convOHWI: true, k: -1), reference.inputGradient, "input gradient")
        for (k, p) in store.parameters.enumerated() {
            agree(projection(p.grad, torchShape: p.exportShape, convOHWI: p.layout == .convOHWI, k: k),
                  (reference.parameterGradients[k].1, reference.parameterGradients[k].2), p.name)
        }
        var expected = reference.runningStatistics.makeIterator()
        for (k, b) in store.buffers.enumerated() where !b.name.hasSuffix("num_batches_tracked") {
            let e = expected.next()!
            agree(projection(b.tensor.data, torchShape: b.tensor.shape, convOHWI: false, k: k), (e.1, e.2), b.name)
            XCTAssertEqual(store.buffer(named: qualified(String(b.name.split(separator: ".").dropLast().joined(separator: ".")),
                                                         "num_batches_tracked"))?[0], 1, file: file, line: line)
        }
        assertClose(model.forward(x, mode: .evaluation).array, reference.evaluationFeatures, rtol: 5e-4, atol: 1e-4,
                    "evaluation features", file: file, line: line)
    }

    func testResNet18CifarStemMatchesPyTorch() {
        check(torchReferenceResNet18Cifar,
              ResNetConfig(depth: .resnet18, stem: .cifar, widthMultiplier: 0.0625, inputChannels: 1))
    }

    func testResNet18ImageNetStemMatchesPyTorch() {
        check(torchReferenceResNet18ImageNet,
              ResNetConfig(depth: .resnet18, stem: .imagenet, widthMultiplier: 0.0625, inputChannels: 3))
    }

    func testResNet50ImageNetStemMatchesPyTorch() {
        check(torchReferenceResNet50ImageNet,
              ResNetConfig(depth: .resnet50, stem: .imagenet, widthMultiplier: 0.0625, inputChannels: 3))
    }
}
