import Probes

/// `--optimizer lbfgs`: multinomial logistic regression on the standardised cached features, L2
/// strength λ = `weightDecay` on the mean loss, fitted once; the standardisation is folded into
/// `fc.weight` / `fc.bias`, so the saved classifier runs on raw features like any other.
struct LogisticRegressionFit: FineTuneTraining {
    func run(_ run: FineTuneRun) throws -> (ClassifierResult, ClassifierOutputs) {
        let cache = try CachedFeatures(run)
        if run.progress.epoch == 0 { try fit(run, cache) }
        return try cache.test(run)
    }

    private func fit(_ run: FineTuneRun, _ cache: CachedFeatures) throws {
        let config = run.config
        // λ as written (1e-4, not the float nearest to it).
        let lambda = Double("\(config.weightDecay)") ?? Double(config.weightDecay)
        let probe = try LogisticRegression(regularization: .weightDecay(lambda), standardize: true)
        run.context.log("fitting a logistic regression (L-BFGS, λ \(config.weightDecay), standardised features)")
        let train = cache.features(cache.train)
        let fit = try probe.fit(features: train, labels: cache.train.labels, classes: run.splits.classNames.count)
        guard let weight = run.classifier.headStore.parameter(named: "fc.weight"),
              let bias = run.classifier.headStore.parameter(named: "fc.bias") else {
            preconditionFailure("LogisticRegressionFit: a linear head has fc.weight and fc.bias")
        }
        weight.value.update(from: probe.weight.data, count: weight.count)
        bias.value.update(from: probe.bias.data, count: bias.count)
        run.context.log("L-BFGS: \(fit.iterations) iterations, \(fit.converged ? "converged" : "not converged")")
        let trainResult = CachedFeatures.result(of: run, on: train, labels: cache.train.labels)
        let count = Double(cache.train.labels.count)
        run.progress.lossSum = trainResult.loss * count
        run.progress.hits = trainResult.accuracy * count
        run.progress.count = count
        try run.finishEpoch(validation: CachedFeatures.result(of: run, on: cache.features(cache.validation),
                                                              labels: cache.validation.labels), lr: nil)
    }
}
