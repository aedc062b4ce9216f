import Images

/// The labelled data of a fine-tuning run, split so that only the training data is ever learnt
/// from or looked at during training:
///
/// ```
/// training data ─┬─ (no test split and no --test-data: stratified test hold-out, seed′) ─▶ test
///                └─ rest ─▶ stratified validation split (seed) ─▶ validation
///                           └─ training part ─▶ stratified label fraction (seed) ─▶ train
/// ```
///
/// The test part is the data's own test split, `--test-data`, or the hold-out; it is used once, at
/// the end. Validation comes out before the label fraction, so it does not shrink with it.
public struct FineTuneSplits {
    public let train: ImageDataset
    public let validation: ImageDataset
    public let test: ImageDataset
    public let classNames: [String]
    /// Where the test images came from, in words.
    public let testSource: String
    /// The fraction held out as the test part when the data has no test split (nil otherwise).
    public let heldOutTestFraction: Double?

    public init(config: FineTuneConfig, skipLog: SkipLog = SkipLog()) throws {
        let format = config.format
        let options = config.datasetOptions
        let full = try openDataset(path: config.data, format: format, split: .train, options: options, skipLog: skipLog)
        guard full.isLabelled else {
            throw TrainingError.invalidOption("\(full.name) has no labels; fine-tuning needs labelled data")
        }
        classNames = full.classNames
        var rest: ImageDataset = full
        if let testPath = config.testData {
            let opened: ImageDataset
            do {
                opened = try openDataset(path: testPath, format: format, split: .test, options: options, skipLog: skipLog)
            } catch DatasetError.noSplit {
                opened = try openDataset(path: testPath, format: format, split: .train, options: options, skipLog: skipLog)
            }
            test = opened
            testSource = "--test-data \(testPath)"
            heldOutTestFraction = nil
        } else {
            do {
                test = try openDataset(path: config.data, format: format, split: .test, options: options, skipLog: skipLog)
                testSource = "the data's test split"
                heldOutTestFraction = nil
            } catch DatasetError.noSplit {
                let parts = Self.holdOut(full, fraction: config.testFraction, seed: config.seed)
                rest = parts.rest
                test = parts.test
                testSource = "a stratified \(config.testFraction) of the data held out (the data has no test split)"
                heldOutTestFraction = config.testFraction
            }
        }
        guard test.classNames == classNames else {
            throw TrainingError.invalidOption(
                "the test data's classes (\(test.classNames.count): \(test.classNames.prefix(4).joined(separator: ", "))…) "
                + "are not the training data's (\(classNames.count): \(classNames.prefix(4).joined(separator: ", "))…)")
        }
        let (trainPart, validation) = rest.stratifiedSplit(validationFraction: config.valFraction, seed: config.seed)
        self.validation = validation
        train = config.labelFraction < 1 ? trainPart.labelFraction(config.labelFraction, seed: config.seed) : trainPart
        guard train.count > 0, validation.count > 0, test.count > 0 else {
            throw TrainingError.invalidOption(
                "too few images to split: \(train.count) train, \(validation.count) validation, \(test.count) test")
        }
    }

    /// The stratified test hold-out of data without a test split: `fraction` of every class, drawn
    /// with a seed of its own so it does not overlap the validation draw's pattern. `evaluate`
    /// rebuilds the same part from the saved fraction and seed.
    public static func holdOut(_ data: ImageDataset, fraction: Double, seed: UInt64) -> (rest: SubsetDataset, test: SubsetDataset) {
        let parts = data.stratifiedSplit(validationFraction: fraction, seed: seed ^ 0x7E57_0000_0000_7E57)
        return (parts.train, SubsetDataset(parts.validation.base, indices: parts.validation.indices, tag: "held-out test \(fraction)"))
    }
}
