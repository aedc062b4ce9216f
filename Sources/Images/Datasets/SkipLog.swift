import Foundation

/// Files and images that could not be used. The first `printLimit` are printed as one warning line
/// each; `finish()` prints how many more there were. The total is for run reports.
public final class SkipLog: @unchecked Sendable {
    public let printLimit: Int
    private let printer: (String) -> Void
    private let lock = NSLock()
    private var recorded: [(source: String, reason: String)] = []
    private var sources = Set<String>()
    private var printed = 0
    private var summarised = 0

    /// - Parameter printer: where warning lines go (standard error by default).
    public init(printLimit: Int = 5, printer: @escaping (String) -> Void = SkipLog.standardError) {
        self.printLimit = printLimit
        self.printer = printer
    }

    public static func standardError(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    /// Records one skipped item (printing it while under the limit); an item already recorded, met
    /// again by another pass over the data, is counted once.
    public func record(_ source: String, reason: String) {
        lock.lock()
        guard sources.insert(source).inserted else {
            lock.unlock()
            return
        }
        recorded.append((source, reason))
        let show = printed < printLimit
        if show { printed += 1 }
        lock.unlock()
        if show { printer("warning: skipped \(source): \(reason)") }
    }

    /// Records an image error (its message already names the source).
    public func record(_ error: ImageError) {
        record(error.source, reason: error.reason)
    }

    /// Prints one line counting the items recorded but not printed since the last call.
    public func finish() {
        lock.lock()
        let hidden = recorded.count - printed - summarised
        summarised += max(hidden, 0)
        let total = recorded.count
        lock.unlock()
        if hidden > 0 { printer("warning: \(hidden) more skipped (\(total) in total)") }
    }

    /// How many items were skipped.
    public var count: Int {
        lock.lock(); defer { lock.unlock() }
        return recorded.count
    }

    /// Every skipped item with its reason, in the order recorded.
    public var entries: [(source: String, reason: String)] {
        lock.lock(); defer { lock.unlock() }
        return recorded
    }
}
