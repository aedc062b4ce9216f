@testable import NN
import Tensors
import TestSupport
import XCTest

final class ModelTests: XCTestCase {
    /// A full-size torchvision model: our encoder plus a 1000-class `fc`, registered but not allocated.
    private func torchvisionLayout(_ depth: ResNetConfig.Depth) -> (ParameterStore, ResNet) {
        let store = ParameterStore()
        let model = ResNet(ResNetConfig(depth: depth, stem: .imagenet), store: store, kernels: .default)
        _ = ClassifierHead(store, kind: .linear, inputDimension: model.featureDimension, classes: 1000)
        return (store, model)
    }

    func testNamesShapesAndCountsEqualTorchvision() {
        for (depth, parameters, buffers, count) in [
            (ResNetConfig.Depth.resnet18, torchvisionResNet18Parameters, torchvisionResNet18Buffers, 11_689_512),
            (.resnet50, torchvisionResNet50Parameters, torchvisionResNet50Buffers, 25_557_032),
        ] {
            let (store, _) = torchvisionLayout(depth)
            XCTAssertEqual(store.parameters.map(\.name), parameters.map(\.0), "\(depth) parameter names")
            XCTAssertEqual(store.parameters.map(\.exportShape), parameters.map(\.1), "\(depth) parameter shapes")
            XCTAssertEqual(store.buffers.map(\.name), buffers.map(\.0), "\(depth) buffer names")
            XCTAssertEqual(store.buffers.map(\.tensor.shape), buffers.map(\.1), "\(depth) buffer shapes")
            XCTAssertEqual(store.count, count, "\(depth) parameter count")
            XCTAssertEqual(parameters.reduce(0) { $0 + $1.1.reduce(1, *) }, count, "\(depth) fixture count")
        }
        XCTAssertEqual(torchvisionLayout(.resnet34).0.count, 21_797_672)
    }

    func testDepthsDescribeTheirBlocks() {
        let counts: [(ResNetConfig.Depth, Int, Int)] = [(.resnet18, 512, 20), (.resnet34, 512, 36), (.resnet50, 2048, 53)]
        for (depth, features, batchNorms) in counts {
            let (store, model) = torchvisionLayout(depth)
            XCTAssertEqual(model.featureDimension, features, "\(depth)")
            XCTAssertEqual(model.batchNorms.count, batchNorms, "\(depth)")
            let names = Set(store.parameters.map(\.name))
            let blocks = depth.blockCounts
            for (stage, count) in blocks.enumerated() {
                XCTAssertTrue(names.contains("layer\(stage + 1).\(count - 1).conv2.weight"), "\(depth) stage \(stage + 1)")
                XCTAssertFalse(names.contains("layer\(stage + 1).\(count).conv1.weight"), "\(depth) stage \(stage + 1)")
            }
            // Downsampling where the shape changes: stages 2-4 always, stage 1 only for bottlenecks (64 -> 256).
            XCTAssertEqual(names.contains("layer1.0.downsample.0.weight"), depth.usesBottleneck)
            XCTAssertTrue(names.contains("layer4.0.downsample.1.running_mean") == false)
            XCTAssertNotNil(store.buffer(named: "layer4.0.downsample.1.running_mean"))
            XCTAssertNil(store.parameter(named: "layer4.1.downsample.0.weight"))
        }
    }

    func testWidthMultiplierStemsAndPrefix() {
        let store = ParameterStore()
        let half = ResNet(ResNetConfig(depth: .resnet50, stem: .cifar, widthMultiplier: 0.5, inputChannels: 1),
                          store: store, prefix: "encoder", kernels: .default)
        XCTAssertEqual(half.featureDimension, 1024)
        XCTAssertEqual(store.parameter(named: "encoder.conv1.weight")?.exportShape, [32, 1, 3, 3])
        XCTAssertEqual(store.parameter(named: "encoder.layer4.2.conv3.weight")?.exportShape, [1024, 256, 1, 1])
        XCTAssertEqual(store.parameter(named: "encoder.layer2.0.conv2.weight")?.exportShape, [64, 64, 3, 3])
        XCTAssertEqual(ResNetConfig(widthMultiplier: 0.0625).stageWidths, [4, 8, 16, 32])

        // Output sizes: the ImageNet stem divides by 4 before layer1, the CIFAR stem keeps the size.
        for (stem, size) in [(ResNetConfig.Stem.imagenet, 32), (.cifar, 8)] {
            let store = ParameterStore()
            let model = ResNet(ResNetConfig(depth: .resnet18, stem: stem, widthMultiplier: 0.0625), store: store,
                               kernels: .default)
            store.finalize(seed: 1)
            XCTAssertEqual(model.forward(randomTensor([3, size, size, 3], seed: 1), mode: .training).shape, [3, 32])
        }
    }

    func testZeroInitResidualZeroesEachBlocksLastBatchNorm() {
        for depth in [ResNetConfig.Depth.resnet18, .resnet50] {
            let store = ParameterStore()
            _ = ResNet(ResNetConfig(depth: depth, widthMultiplier: 0.0625, zeroInitResidual: true), store: store,
                       kernels: .default)
            store.finalize(seed: 1)
            let last = depth.usesBottleneck ? "bn3.weight" : "bn2.weight"
            for p in store.parameters where p.role == .normWeight {
                let expected: Float = p.name.hasSuffix(last) && p.name.hasPrefix("layer") ? 0 : 1
                XCTAssertTrue((0..<p.count).allSatisfy { p.value[$0] == expected }, "\(depth) \(p.name)")
            }
        }
    }

    func testEvaluationModeUsesRunningStatisticsAndLeavesThemUnchanged() {
        let store = ParameterStore()
        let model = ResNet(ResNetConfig(depth: .resnet18, stem: .cifar, widthMultiplier: 0.0625, inputChannels: 1),
                           store: store, kernels: .default)
        store.finalize(seed: 1)
        let x = randomTensor([4, 8, 8, 1], seed: 2)
        for _ in 0..<3 { _ = model.forward(x, mode: .training) }
        XCTAssertTrue(model.batchNorms.allSatisfy { $0.numBatchesTracked[0] == 3 })
        let before = store.buffers.map(\.tensor.array)
        let batch = model.forward(x, mode: .evaluation).array
        XCTAssertEqual(store.buffers.map(\.tensor.array), before, "evaluation changed a running statistic")
        // With running statistics, an image's features do not depend on the rest of the batch.
        let single = Tensor(zeros: [1, 8, 8, 1])
        single.data.update(from: x.data + 2 * 64, count: 64)
        assertClose(model.forward(single, mode: .evaluation).array, Array(batch[2 * 32..<3 * 32]), rtol: 1e-5, atol: 1e-6)
        // In training mode they do.
        let trainingBatch = model.forward(x, mode: .training).array
        let trainingSingle = model.forward(Tensor(shape: [2, 8, 8, 1], values: Array(x.array[0..<128])), mode: .training).array
        XCTAssertNotEqual(Array(trainingBatch[0..<32]), Array(trainingSingle[0..<32]))
    }

    /// The second identical step reuses every buffer of the first: same tensors, same storage, same
    /// capacity; and a smaller batch fits in them too.
    func testSecondStepAllocatesNothing() {
        let store = ParameterStore()
        let encoder = ResNet(ResNetConfig(depth: .resnet50, stem: .imagenet, widthMultiplier: 0.0625), store: store,
                             kernels: .default)
        let head = ProjectionHead(store, inputDimension: encoder.featureDimension, hiddenDimension: 16,
                                  outputDimension: 8, layers: 3, batchNorm: true, outputBatchNorm: true)
        store.finalize(seed: 1)
        // Blocks that other tests left waiting in the pool stay there: a request only ever takes a
        // block of its own size class, so they cannot change what the second step takes.
        let x = randomTensor([4, 32, 32, 3], seed: 2)
        let small = Tensor(shape: [2, 32, 32, 3], values: Array(x.array[0..<(2 * 32 * 32 * 3)]))
        func step(_ x: Tensor) {
            let z = head.forward(encoder.forward(x, mode: .training), mode: .training)
            _ = encoder.backward(head.backward(z))
        }
        func buffers() -> [(ObjectIdentifier, UnsafeMutablePointer<Float>, Int)] {
            (encoder.workspaceTensors + head.workspaceTensors).map { (ObjectIdentifier($0), $0.data, $0.capacity) }
        }
        step(x)
        let first = buffers()
        let bytes = encoder.workspaceBytes + head.workspaceBytes, scratch = Scratch.heldBytes
        XCTAssertGreaterThan(first.count, 50)
        // A smaller batch (an epoch's last) reuses the workspaces; its gradients take blocks of their
        // own classes, allocated the first time only.
        step(small)
        let pooled = TensorPool.allocatedBytes
        for x in [x, small, x] {
            step(x)
            let again = buffers()
            XCTAssertEqual(again.count, first.count)
            XCTAssertTrue(zip(first, again).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 && $0.2 == $1.2 },
                          "a workspace was reallocated")
            XCTAssertEqual(encoder.workspaceBytes + head.workspaceBytes, bytes)
            XCTAssertEqual(Scratch.heldBytes, scratch, "the shared scratch grew")
            XCTAssertEqual(TensorPool.allocatedBytes, pooled, "the gradients' pool grew")
        }
    }

    func testWithoutInputGradientTheParameterGradientsAreTheSame() {
        let store = ParameterStore()
        let model = ResNet(ResNetConfig(depth: .resnet18, stem: .imagenet, widthMultiplier: 0.0625), store: store,
                           kernels: .default)
        store.finalize(seed: 1)
        let x = randomTensor([2, 16, 16, 3], seed: 2)
        let dy = randomTensor([2, model.featureDimension], seed: 3)
        var grads: [[Float]] = []
        for needed in [true, false] {
            model.needsInputGradient = needed
            store.zeroGrad()
            _ = model.forward(x, mode: .training)
            XCTAssertEqual(model.backward(dy).count, needed ? x.count : 0)
            grads.append(Array(UnsafeBufferPointer(start: store.grads, count: store.count)))
        }
        XCTAssertEqual(grads[0], grads[1], "skipping the input gradient changed a parameter gradient")
    }

    /// A CIFAR-stem ResNet of `depth` and `width`, a random batch of 16x16 RGB images for it and a
    /// random gradient of its features.
    private func cifarResNet(_ depth: ResNetConfig.Depth, width: Double,
                             batch: Int) -> (ParameterStore, ResNet, Tensor, Tensor) {
        let store = ParameterStore()
        let model = ResNet(ResNetConfig(depth: depth, stem: .cifar, widthMultiplier: width), store: store,
                           kernels: .default)
        store.finalize(seed: 1)
        return (store, model, randomTensor([batch, 16, 16, 3], seed: 2),
                randomTensor([batch, model.featureDimension], seed: 3))
    }

    /// What an overlapped all-reduce relies on: when backward reports an offset, every gradient from
    /// there to the end of the store is final, and none before it has been touched yet.
    func testBackwardReportsEachPointFromWhichTheGradientsAreFinal() {
        for depth in [ResNetConfig.Depth.resnet18, .resnet50] {
            let (store, model, x, dy) = cifarResNet(depth, width: 0.0625, batch: 2)
            var reports: [(offset: Int, final: [Float], untouched: Bool)] = []
            model.gradientsReady = { offset in
                let grads = UnsafeBufferPointer(start: store.grads, count: store.count)
                reports.append((offset, Array(grads[offset...]), grads[..<offset].allSatisfy { $0 == 0 }))
            }
            store.zeroGrad()
            _ = model.forward(x, mode: .training)
            _ = model.backward(dy)
            let grads = Array(UnsafeBufferPointer(start: store.grads, count: store.count))
            XCTAssertEqual(reports.count, depth.blockCounts.reduce(0, +) + 1, "one report per block and the stem")
            XCTAssertEqual(reports.map(\.offset), reports.map(\.offset).sorted(by: >), "offsets run towards the start")
            XCTAssertEqual(reports.last?.offset, 0)
            for report in reports {
                XCTAssertEqual(report.final, Array(grads[report.offset...]), "\(depth) offset \(report.offset) was not final")
                XCTAssertTrue(report.untouched, "\(depth): gradients before \(report.offset) were already being computed")
            }
        }
    }

    /// A block's backward writes BatchNorm's and the join's gradients over gradients nobody reads
    /// again: at most three first-stage-sized gradients are alive at once (five without).
    func testBackwardHoldsAtMostThreeGradientsOfTheLargestActivation() {
        for depth in [ResNetConfig.Depth.resnet18, .resnet50] {
            let (_, model, x, dy) = cifarResNet(depth, width: 0.25, batch: 4)
            _ = model.forward(x, mode: .training)
            TensorPool.resetPeak()
            _ = model.backward(dy)
            // The first stage's widest activation: [4, 16, 16, 16 (ResNet-18) or 64 (ResNet-50)].
            let largest = 4 * 16 * 16 * 16 * (depth == .resnet50 ? 4 : 1) * MemoryLayout<Float>.size
            XCTAssertGreaterThan(TensorPool.peakInUseBytes, 2 * largest, "\(depth)")
            XCTAssertLessThanOrEqual(TensorPool.peakInUseBytes, 3 * largest, "\(depth)")
        }
    }

    /// An inference forward pass gives the evaluation pass's features exactly, writes no layer
    /// workspace, and holds only a few activations at once (pooled, returned as the next layers
    /// finish with them): at most four of the largest, against one per layer in evaluation.
    func testInferenceMatchesEvaluationAndHoldsOnlyAFewActivations() {
        for (depth, stem, size) in [(ResNetConfig.Depth.resnet18, ResNetConfig.Stem.cifar, 16), (.resnet50, .imagenet, 32)] {
            let label = "\(depth) \(stem)"
            let store = ParameterStore()
            let model = ResNet(ResNetConfig(depth: depth, stem: stem, widthMultiplier: 0.25), store: store,
                               kernels: .default)
            let head = ClassifierHead(store, prefix: "probe", kind: .mlp(hidden: 16), inputDimension: model.featureDimension,
                                      classes: 5)
            store.finalize(seed: 4)
            let x = randomTensor([4, size, size, 3], seed: 5)
            XCTAssertEqual(model.workspaceBytes, 0)
            let before = TensorPool.inUseBytes
            TensorPool.resetPeak()
            let inferred = head.forward(model.forward(x, mode: .inference), mode: .inference).array
            XCTAssertEqual(model.workspaceBytes, 0, "\(label): inference wrote a layer's workspace")
            XCTAssertEqual(TensorPool.inUseBytes, before, "\(label): an activation was not returned to the pool")
            let peak = TensorPool.peakInUseBytes - before
            XCTAssertEqual(head.forward(model.forward(x, mode: .evaluation), mode: .evaluation).array, inferred, label)
            // The stem's output, [4, 16, 16, stem width]: the widest activation of both networks here.
            let largest = 4 * 16 * 16 * model.config.stemWidth * MemoryLayout<Float>.size
            XCTAssertGreaterThan(peak, largest, label)
            XCTAssertLessThanOrEqual(peak, 4 * largest, label)
            XCTAssertGreaterThan(model.workspaceBytes, 4 * peak, "\(label): evaluation holds every activation")
        }
    }

    func testHeadNamesFollowTorchSequentials() {
        let store = ParameterStore()
        let v1 = ProjectionHead(store, prefix: "projection", inputDimension: 32, hiddenDimension: 16, outputDimension: 8)
        let v2 = ProjectionHead(store, prefix: "v2", inputDimension: 32, hiddenDimension: 16, outputDimension: 8,
                                layers: 3, batchNorm: true, outputBatchNorm: true)
        let linear = ClassifierHead(store, kind: .linear, inputDimension: 32, classes: 10)
        let mlp = ClassifierHead(store, prefix: "probe", kind: .mlp(hidden: 64), inputDimension: 32, classes: 10)
        XCTAssertEqual(store.parameters.map(\.name), [
            "projection.0.weight", "projection.0.bias", "projection.2.weight", "projection.2.bias",
            // Linear(no bias), BN, ReLU, Linear(no bias), BN, ReLU, Linear(no bias), BN(affine=False)
            "v2.0.weight", "v2.1.weight", "v2.1.bias", "v2.3.weight", "v2.4.weight", "v2.4.bias", "v2.6.weight",
            "fc.weight", "fc.bias",
            "probe.fc.0.weight", "probe.fc.0.bias", "probe.fc.2.weight", "probe.fc.2.bias",
        ])
        XCTAssertEqual(store.buffers.map(\.name).filter { $0.hasSuffix("running_mean") },
                       ["v2.1.running_mean", "v2.4.running_mean", "v2.7.running_mean"])
        XCTAssertEqual(store.parameter(named: "v2.6.weight")?.shape, [8, 16])
        XCTAssertEqual(store.parameter(named: "probe.fc.2.weight")?.shape, [10, 64])
        XCTAssertEqual(v1.batchNorms.count, 0)
        XCTAssertEqual(v2.batchNorms.map(\.affine), [true, true, false])
        store.finalize(seed: 1)
        let h = randomTensor([4, 32], seed: 1)
        XCTAssertEqual(v2.forward(h, mode: .training).shape, [4, 8])
        XCTAssertEqual(linear.forward(h, mode: .training).shape, [4, 10])
        XCTAssertEqual(mlp.forward(h, mode: .evaluation).shape, [4, 10])
    }
}
