import Images
import Optim
import Tensors

/// Linear evaluation on cached features: the head trains on the frozen encoder's features, in
/// shuffled mini-batches, alike on every rank (no communication but the stop flag).
struct CachedFeatureTraining: FineTuneTraining {
    func run(_ run: FineTuneRun) throws -> (ClassifierResult, ClassifierOutputs) {
        let cache = try CachedFeatures(run)
        let config = run.config
        let x = cache.features(cache.train), labels = cache.train.labels
        let validation = cache.features(cache.validation)
        let n = x.shape[0], f = x.shape[1], b = config.batchSize
        let stepsPerEpoch = (n + b - 1) / b
        guard let optimizer = run.optimizer else { preconditionFailure("CachedFeatureTraining: no optimiser") }
        let schedule = try WarmupCosine(baseLR: config.lr, warmupSteps: 0, totalSteps: config.epochs * stepsPerEpoch)
        let loss = try CrossEntropyLoss()
        let head = run.classifier.head, store = run.classifier.headStore
        var input = Workspace(), dLogits = Workspace()
        var order: [Int] = []
        var lr = run.learningRate(schedule)
        try StepLoop(context: run.context, stepsPerEpoch: stepsPerEpoch, epochs: config.epochs).run(
            from: StepLoop.Position(epoch: run.progress.epoch, step: run.progress.step),
            beginEpoch: { epoch, _ in
                order = Sharding.epochOrder(count: n, seed: config.seed, epoch: epoch, shuffle: true)
                lr = run.learningRate(schedule)
            },
            step: { position in
                let rows = order[(position.step * b) ..< min((position.step + 1) * b, n)]
                let xb = input.get([rows.count, f])   // [m, F]
                var yb: [Int] = []
                for (i, r) in rows.enumerated() {
                    (xb.data + i * f).update(from: x.data + r * f, count: f)
                    yb.append(labels[r])
                }
                store.zeroGrad()
                let logits = head.forward(xb, mode: .training)   // [m, K]
                let d = dLogits.get(logits.shape)
                let mean = Double(loss.lossAndGradient(logits: logits, labels: yb, dLogits: d))
                guard mean.isFinite else { throw TrainingError.nonFiniteLoss(step: run.progress.globalStep + 1, value: Float(mean)) }
                let hits = CrossEntropyLoss.correctCount(logits: logits, labels: yb)
                _ = head.backward(d)
                lr = run.learningRate(schedule)
                optimizer.step(lr: lr)
                run.recordStep(lossSum: mean * Double(rows.count), hits: Double(hits), count: Double(rows.count))
                return [("loss", String(format: "%.4f", mean)), ("lr", String(format: "%.3g", lr))]
            },
            endEpoch: { _ in
                try run.finishEpoch(validation: CachedFeatures.result(of: run, on: validation, labels: cache.validation.labels),
                                    lr: lr)
            },
            checkpoint: run.checkpoint)
        return try cache.test(run)
    }
}
