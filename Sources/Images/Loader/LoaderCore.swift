import Foundation
import Tensors

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
        precondition(image.channels == dataset.channels,
                     "DataLoader: \(dataset.name) returned a \(image.channels)-channel image, not \(dataset.channels)")
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
