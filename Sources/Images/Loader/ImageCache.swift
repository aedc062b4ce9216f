import Foundation

/// Decoded images kept in memory up to a byte budget (first come, first kept), so a small dataset
/// of files is decoded once. Thread-safe.
final class ImageCache: @unchecked Sendable {
    private var slots: [Image?]
    private var used = 0
    private let limit: Int
    private let lock = NSLock()

    init(count: Int, limitBytes: Int) {
        slots = Array(repeating: nil, count: count)
        limit = limitBytes
    }

    func get(_ index: Int) -> Image? {
        lock.lock(); defer { lock.unlock() }
        return slots[index]
    }

    func put(_ index: Int, _ image: Image) {
        lock.lock(); defer { lock.unlock() }
        if slots[index] == nil && used + image.byteCount <= limit {
            slots[index] = image
            used += image.byteCount
        }
    }

    var bytes: Int {
        lock.lock(); defer { lock.unlock() }
        return used
    }
}
