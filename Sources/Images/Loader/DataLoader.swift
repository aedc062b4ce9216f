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
        let ring = (0..<max(prefetch, workers == 0 ? 1 : 2)).map { _ in
            Batch(capacity: batchSize, views: views, size: transform.size, channels: dataset.channels)
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
    public func start(epoch: Int) {
        core.drain()
        self.epoch = epoch
        let order = Sharding.epochOrder(count: dataset.count, seed: seed, epoch: epoch, shuffle: shuffle)
        plan = Sharding.batches(order: order, globalBatch: batchSize * worldSize, rank: rank, worldSize: worldSize,
                                dropLast: dropLast)
        nextStep = 0
        lastSlot = nil
        if workers > 0 {
            for step in 0..<min(core.ring.count, plan.count) {
                core.schedule(step: step, epoch: epoch, indices: plan[step], slot: step, inline: false)
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

/// The state shared by the loader and its worker threads.
final class LoaderCore: @unchecked Sendable {
    struct Task {
        var slot: Int, item: Int, index: Int
    }

    let dataset: ImageDataset
    let transform: ViewTransform
    let seed: UInt64
    let ring: [Batch]
    let cache: ImageCache?
    private let condition = NSCondition()
    private var queue: [Task] = []
    private var head = 0
    private var pending: [Int]
    private var stopping = false
    private var running = 0
    private var unreadable = Set<Int>()
    private var failed: DatasetError?
    private let inlineScratch = AugmentScratch()

    init(dataset: ImageDataset, transform: ViewTransform, seed: UInt64, ring: [Batch], cache: ImageCache?) {
        self.dataset = dataset
        self.transform = transform
        self.seed = seed
        self.ring = ring
        self.cache = cache
        pending = Array(repeating: 0, count: ring.count)
    }

    var failure: DatasetError? {
        condition.lock(); defer { condition.unlock() }
        return failed
    }

    var unreadableCount: Int {
        condition.lock(); defer { condition.unlock() }
        return unreadable.count
    }

    func startWorkers(_ n: Int) {
        running = n
        for w in 0..<n {
            let thread = Thread { [self] in workerLoop() }
            thread.name = "simclr-loader-\(w)"
            thread.start()
        }
    }

    /// Fills `slot` with batch `step`: inline on this thread, or queued for the workers.
    func schedule(step: Int, epoch: Int, indices: [Int], slot: Int, inline: Bool) {
        let batch = ring[slot]
        batch.count = indices.count
        batch.step = step
        batch.epoch = epoch
        batch.images.reshape([batch.views * indices.count] + Array(batch.images.shape.dropFirst()))
        if inline {
            for (item, index) in indices.enumerated() { load(Task(slot: slot, item: item, index: index), inlineScratch) }
            return
        }
        condition.lock()
        pending[slot] += indices.count
        for (item, index) in indices.enumerated() { queue.append(Task(slot: slot, item: item, index: index)) }
        condition.broadcast()
        condition.unlock()
    }

    func wait(slot: Int) {
        condition.lock()
        while pending[slot] > 0 { condition.wait() }
        condition.unlock()
    }

    /// Drops queued work and waits for the tasks already running.
    func drain() {
        condition.lock()
        for task in queue[head...] { pending[task.slot] -= 1 }
        queue.removeAll(keepingCapacity: true)
        head = 0
        while pending.contains(where: { $0 > 0 }) { condition.wait() }
        condition.unlock()
    }

    func stop() {
        condition.lock()
        stopping = true
        queue.removeAll()
        head = 0
        condition.broadcast()
        while running > 0 { condition.wait() }
        condition.unlock()
    }

    private func workerLoop() {
        let scratch = AugmentScratch()
        while true {
            condition.lock()
            while head == queue.count && !stopping { condition.wait() }
            if stopping {
                running -= 1
                condition.broadcast()
                condition.unlock()
                return
            }
            let task = queue[head]
            head += 1
            if head == queue.count {
                queue.removeAll(keepingCapacity: true)
                head = 0
            }
            condition.unlock()
            load(task, scratch)
            condition.lock()
            pending[task.slot] -= 1
            if pending[task.slot] == 0 { condition.broadcast() }
            condition.unlock()
        }
    }

    /// Decodes (or fetches) the task's image, replacing it by the next readable sample when it
    /// cannot be read, and writes its views into the batch.
    private func load(_ task: Task, _ scratch: AugmentScratch) {
        let n = dataset.count
        var index = task.index
        var image: Image?
        for _ in 0..<n {
            if isUnreadable(index) {
                index = (index + 1) % n
                continue
            }
            if let cached = cache?.get(index) {
                image = cached
                break
            }
            do {
                let decoded = try dataset.image(at: index, minimumSide: transform.minimumDecodeSide)
                cache?.put(index, decoded)
                image = decoded
                break
            } catch {
                markUnreadable(index, error)
                index = (index + 1) % n
            }
        }
        let batch = ring[task.slot]
        guard let image else {
            condition.lock()
            failed = DatasetError.noImages(path: dataset.name)
            condition.unlock()
            return
        }
        batch.labelStorage[task.item] = dataset.label(at: index)
        batch.indexStorage[task.item] = index
        batch.replacedStorage[task.item] = index == task.index ? 0 : 1
        for v in 0..<batch.views {
            var random = RandomStream(seed: seed, epoch: batch.epoch, index: index, view: v)
            transform.apply(image, random: &random, into: batch.viewPointer(item: task.item, view: v), scratch: scratch)
        }
    }

    private func isUnreadable(_ index: Int) -> Bool {
        condition.lock(); defer { condition.unlock() }
        return unreadable.contains(index)
    }

    private func markUnreadable(_ index: Int, _ error: Error) {
        condition.lock()
        let first = unreadable.insert(index).inserted
        condition.unlock()
        guard first else { return }
        if let error = error as? ImageError {
            dataset.skipLog.record(error)
        } else {
            dataset.skipLog.record(dataset.source(at: index), reason: "\(error)")
        }
    }
}
