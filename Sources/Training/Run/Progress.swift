import Foundation

/// Rank 0's view of a run's progress: a bar redrawn in place on a terminal, a plain line every few
/// seconds otherwise (logs, CI, mpirun without a terminal). Other ranks print nothing.
public final class Progress {
    private let enabled: Bool
    private let isTerminal: Bool
    private let interval: Double
    private var lastPrint = 0.0
    private let start = Date()
    private let totalSteps: Int

    public init(totalSteps: Int, enabled: Bool, interval: Double = 5) {
        self.totalSteps = totalSteps
        self.enabled = enabled
        self.interval = interval
        isTerminal = isatty(2) != 0
    }

    /// Reports one finished step; `fields` are shown as `name value` pairs after the bar.
    public func update(step: Int, epoch: Int, fields: [(String, String)]) {
        guard enabled else { return }
        let now = Date().timeIntervalSince(start)
        let done = step >= totalSteps
        if !isTerminal && !done && now - lastPrint < interval { return }
        if isTerminal && !done && now - lastPrint < 0.2 { return }
        lastPrint = now
        let fraction = totalSteps > 0 ? Double(step) / Double(totalSteps) : 1
        let eta = step > 0 ? now / Double(step) * Double(totalSteps - step) : 0
        let text = fields.map { "\($0.0) \($0.1)" }.joined(separator: "  ")
        let head = "epoch \(epoch) step \(step)/\(totalSteps)"
        if isTerminal {
            let width = 24
            let filled = Int((fraction * Double(width)).rounded(.down))
            let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
            writeError("\r[\(bar)] \(head)  \(text)  eta \(Progress.clock(eta))\u{1B}[K" + (done ? "\n" : ""))
        } else {
            writeError("\(head)  \(text)  eta \(Progress.clock(eta))\n")
        }
    }

    /// Seconds as `h:mm:ss` or `m:ss`.
    public static func clock(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        let (h, m, sec) = (s / 3600, (s % 3600) / 60, s % 60)
        return h > 0 ? String(format: "%d:%02d:%02d", h, m, sec) : String(format: "%d:%02d", m, sec)
    }
}

/// Writes to standard error without the Foundation stream globals (not concurrency-safe in Swift 6).
public func writeError(_ text: String) {
    var bytes = Array(text.utf8)
    var offset = 0
    while offset < bytes.count {
        let n = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress! + offset, $0.count - offset) }
        if n <= 0 { return }
        offset += n
    }
}
