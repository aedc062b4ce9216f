/// One way of training a fine-tuning run's classifier: on images (`ImageTraining`), a head on the
/// frozen encoder's cached features (`CachedFeatureTraining`), or one logistic-regression fit on
/// them (`LogisticRegressionFit`). Each ends its epochs with `FineTuneRun.finishEpoch`, which keeps
/// the best validation epoch's weights.
protocol FineTuneTraining {
    /// Trains `run` to its last epoch, then tests the best epoch's weights once: the test result and
    /// the test images' features.
    func run(_ run: FineTuneRun) throws -> (ClassifierResult, ClassifierOutputs)
}
