import Foundation
import Tensors

/// Feeds training: shards each epoch's seeded permutation across ranks (`Sharding`), decodes and
/// augments on its own worker threads straight into a small ring of preallocated `Batch`es
/// (view-major), and prepares the next batches while the current one trains.
///
/// Every view is drawn from `RandomStream(seed:, epoch:, index: globalSampleIndex, view:)`, so the
/// pixels of a sample's views do not depend on rank, worker count or timing. An image that cannot
/// be read at load time is replaced by the next readable sample of the dataset (index + 1, + 2, ...),
/// logged once in the dataset's `SkipLog` and counted. Images of file datasets are cached in
/// memory, decoded, up to `cacheLimitBytes`.
///
/// Use: `start(epoch:)`, then `next()` until it returns nil. Only one thread may call these.
public final class DataLoader {
    public let dataset: ImageDataset
    public let transform: ViewTransform
    /// Images per batch on this rank (the global batch is `batchSize * worldSize`).
    public let batchSize: Int
    public let views: Int
    public let rank: Int
    public let worldSize: Int
    public let seed: UInt64
    public let shuffle: Bool
    public let dropLast: Bool
    /// Worker threads; 0 loads each batch on the calling thread inside `next()`.
    public let workers: Int
    private let core: LoaderCore
    private var plan: [[Int]] = []
    private var nextStep = 0
    private var lastSlot: Int?
    private var epoch = 0

    /// - Parameters:
    ///   - batchSize: images per batch on this rank.
    ///   - views: views per image (2 for SimCLR, 1 for evaluation).
    ///   - prefetch: batches in the ring (at least 2: one training, the others loading).
    public init(dataset: ImageDataset, transform: ViewTransform, batchSize: Int, views: Int = 2, rank: Int = 0,
                worldSize: Int = 1, seed: UInt64 = 0, shuffle: Bool = true, dropLast: Bool = true,
                workers: Int = 1, prefetch: Int = 2, cacheLimitBytes: Int = 1 << 30) {
        precondition(batchSize > 0 && views > 0, "DataLoader: batch size \(batchSize), views \(views)")
        precondition(worldSize > 0 && (0..<worldSize).contains(rank), "DataLoader: rank \(rank) of \(worldSize)")
        precondition(workers >= 0 && prefetch >= 1, "DataLoader: workers \(workers), prefetch \(prefetch)")
        self.dataset = dataset
        self.transform = transform
        self.batchSize = batchSize
        self.views = views
        self.rank = rank
        self.worldSize = worldSize
        self.seed = seed
        self.shuffle = shuffle
        self.dropLast = dropLast
        self.workers = workers
        let cache = dataset.isInMemory || cacheLimitBytes <= 0 ? nil
            : ImageCache(count: dataset.count, limitBytes: cacheLimitBytes)
        // A batch never holds more than this rank's share of the data, whatever was asked for.
        let capacity = max(1, min(batchSize, (dataset.count + worldSize - 1) / worldSize))
        let ring = (0..<max(prefetch, workers == 0 ? 1 : 2)).map { _ in
            Batch(capacity: capacity, views: views, size: transform.size, channels: dataset.channels)
        }
        core = LoaderCore(dataset: dataset, transform: transform, seed: seed, ring: ring, cache: cache)
        core.startWorkers(workers)
    }

    deinit { core.stop() }

    /// Batches this rank gets per epoch.
    public var batchesPerEpoch: Int {
        let usable = dataset.count - dataset.count % worldSize
        let global = batchSize * worldSize
        return usable / global + (!dropLast && usable % global > 0 ? 1 : 0)
    }

    /// Distinct samples found unreadable while loading (each replaced whenever drawn).
    public var unreadableCount: Int { core.unreadableCount }
    /// Bytes of decoded images held in the cache.
    public var cachedBytes: Int { core.cache?.bytes ?? 0 }

    /// Begins an epoch: waits for work left from the previous one, shuffles and starts loading.
    /// `firstStep` skips the epoch's first batches without loading them (a resumed run).
    public func start(epoch: Int, firstStep: Int = 0) {
        core.drain()
        self.epoch = epoch
        let order = Sharding.epochOrder(count: dataset.count, seed: seed, epoch: epoch, shuffle: shuffle)
        plan = Sharding.batches(order: order, globalBatch: batchSize * worldSize, rank: rank, worldSize: worldSize,
                                dropLast: dropLast)
        nextStep = min(firstStep, plan.count)
        lastSlot = nil
        if workers > 0 {
            for step in nextStep..<min(nextStep + core.ring.count, plan.count) {
                core.schedule(step: step, epoch: epoch, indices: plan[step], slot: step % core.ring.count,
                              inline: false)
            }
        }
    }

    /// The next batch of the epoch, or nil at its end. The batch returned before this call goes
    /// back to the ring and is refilled. Throws `DatasetError.noImages` when no sample of the dataset
    /// can be read any more (every file failed at load time).
    public func next() throws -> Batch? {
        let ringSize = core.ring.count
        if let last = lastSlot, workers > 0 {
            let refill = nextStep - 1 + ringSize
            if refill < plan.count {
                core.schedule(step: refill, epoch: epoch, indices: plan[refill], slot: last, inline: false)
            }
        }
        guard nextStep < plan.count else { return nil }
        let slot = nextStep % ringSize
        if workers == 0 {
            core.schedule(step: nextStep, epoch: epoch, indices: plan[nextStep], slot: slot, inline: true)
        } else {
            core.wait(slot: slot)
        }
        nextStep += 1
        lastSlot = slot
        if let failure = core.failure { throw failure }
        return core.ring[slot]
    }
}
