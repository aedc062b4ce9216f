import Foundation
import Images
import Report
import Tensors

/// A few images of the run's dataset next to two SimCLR views of each, drawn with the run's
/// augmentation and seed (the streams the loader uses for epoch 0, when its seed is the run's), and
/// un-normalised for display.
struct AugmentationExamples {
    static let sampleCount = 8
    static let viewCount = 2
    /// Tiles are shown about this many pixels wide: small images are enlarged, large ones reduced.
    static let tileSide = 128

    let grid: ImageGrid
    let datasetName: String
    let notes: [String]

    /// Opens the dataset `config` names; throws (a one-line reason) when it cannot be opened or no
    /// sample can be read.
    init(config: RunConfig) throws {
        let (augmentation, fallback) = config.augmentation()
        var notes = fallback.map { [$0] } ?? []
        guard (1...4096).contains(augmentation.size) else {
            throw ReportFileError("the augmentation's size \(augmentation.size) is not a usable image side")
        }
        let dataset: ImageDataset
        do {
            dataset = try openDataset(path: config.dataPath, format: config.format, split: .train,
                                      options: config.datasetOptions)
        } catch {
            throw ReportFileError("cannot open the dataset: \(error)")
        }
        let channels = dataset.channels
        let normalization = augmentation.normalization
        guard normalization.mean.count == channels || normalization.mean.count == 1
                || (normalization.mean.count == 3 && channels == 1) else {
            throw ReportFileError("the normalisation has \(normalization.mean.count) values for \(channels)-channel images")
        }
        let (mean, invStd) = normalization.resolved(channels: channels)
        let size = augmentation.size
        let reduction = max(1, (size + Self.tileSide - 1) / Self.tileSide)
        let original = EvaluationTransform(size: size, resizeShorterSide: size)
        let scratch = AugmentScratch()
        let view = UnsafeMutablePointer<Float>.allocate(capacity: size * size * channels)
        defer { view.deallocate() }

        var tiles: [ImageGrid.Image] = []
        var unreadable: [String] = []
        for index in Self.sampleIndices(labels: dataset.labels) {
            let image: Images.Image
            do {
                image = try dataset.image(at: index, minimumSide: augmentation.minimumDecodeSide)
            } catch {
                unreadable.append(dataset.source(at: index))
                continue
            }
            let label = dataset.label(at: index)
            let name = label >= 0 && label < dataset.classNames.count ? dataset.classNames[label] : "#\(index)"
            var random = RandomStream(seed: config.seed, epoch: 0, index: index, view: 0)
            original.apply(image, random: &random, into: view, scratch: scratch)
            tiles.append(Self.tile(view, size: size, channels: channels, reduction: reduction, caption: name))
            for v in 0..<Self.viewCount {
                var random = RandomStream(seed: config.seed, epoch: 0, index: index, view: v)
                augmentation.apply(image, random: &random, into: view, scratch: scratch)
                // Back from (x - mean) / std to [0, 1].
                for p in 0..<(size * size) {
                    for c in 0..<channels { view[p * channels + c] = view[p * channels + c] / invStd[c] + mean[c] }
                }
                tiles.append(Self.tile(view, size: size, channels: channels, reduction: reduction, caption: "view \(v + 1)"))
            }
        }
        if !unreadable.isEmpty { notes.append("unreadable: " + unreadable.joined(separator: ", ")) }
        guard !tiles.isEmpty else { throw ReportFileError("no sample of \(dataset.name) could be read") }
        let side = size / reduction
        let scale = Double(max(1, Self.tileSide / side))
        grid = ImageGrid(title: "Original (centre crop) and \(Self.viewCount) SimCLR views, \(size)x\(size)",
                         images: tiles, columns: 2 * (1 + Self.viewCount), scale: scale)
        datasetName = dataset.name
        self.notes = notes
    }

    /// `sampleCount` samples showing as many classes as they can: classes spread evenly over the
    /// label range (each class's first samples, in turn, when there are fewer classes than samples);
    /// for an unlabelled set, indices spread evenly over the dataset.
    static func sampleIndices(labels: [Int]) -> [Int] {
        var members: [Int: [Int]] = [:]
        for (index, label) in labels.enumerated() where label >= 0 { members[label, default: []].append(index) }
        let classes = members.keys.sorted()
        guard !classes.isEmpty else {
            let n = labels.count
            return n <= sampleCount ? Array(0..<n) : (0..<sampleCount).map { $0 * n / sampleCount }
        }
        let chosen = classes.count <= sampleCount ? classes
            : (0..<sampleCount).map { classes[$0 * classes.count / sampleCount] }
        var picked: [Int] = []
        for round in 0... {
            let before = picked.count
            for label in chosen where picked.count < sampleCount && round < members[label]!.count {
                picked.append(members[label]![round])
            }
            if picked.count == sampleCount || picked.count == before { return picked }
        }
        return picked
    }

    /// `view: [size, size, channels]` in [0, 1] as a tile, each `reduction x reduction` block
    /// averaged (so a large image is reduced without aliasing); the caption shortened to the tile.
    static func tile(_ view: UnsafeMutablePointer<Float>, size: Int, channels: Int, reduction: Int,
                     caption: String) -> ImageGrid.Image {
        let side = size / reduction
        var pixels = [Float](repeating: 0, count: side * side * channels)
        let weight = 1 / Float(reduction * reduction)
        for y in 0..<side {
            for x in 0..<side {
                for dy in 0..<reduction {
                    for dx in 0..<reduction {
                        let source = ((y * reduction + dy) * size + x * reduction + dx) * channels
                        for c in 0..<channels { pixels[(y * side + x) * channels + c] += view[source + c] * weight }
                    }
                }
            }
        }
        let displayed = max(side, tileSide / side * side)
        let characters = max(4, displayed / 6)
        let shortCaption = caption.count <= characters ? caption : String(caption.prefix(characters - 1)) + "…"
        return ImageGrid.Image(width: side, height: side, channels: channels, floats: pixels, range: 0...1,
                               caption: shortCaption)
    }
}
