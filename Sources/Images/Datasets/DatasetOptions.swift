/// Settings for `openDataset` beyond path, format and split.
public struct DatasetOptions: Codable, Equatable, Sendable {
    /// 1 or 3 channels; nil: the dataset's own (folder formats: 1 only when every image is gray).
    public var channels: Int?
    /// Oxford-IIIT Pet: breeds (37 classes) or species (2).
    public var petLabels: OxfordPetDataset.Labels = .breed
    public var validation: ImageValidation = .header
    /// The synthetic dataset: images in the train split (the test split has a quarter as many).
    public var syntheticCount = 2048
    public var syntheticClasses = 10
    public var syntheticSize = 32
    public var syntheticSeed: UInt64 = 0

    public init(channels: Int? = nil, petLabels: OxfordPetDataset.Labels = .breed, validation: ImageValidation = .header) {
        self.channels = channels
        self.petLabels = petLabels
        self.validation = validation
    }
}
