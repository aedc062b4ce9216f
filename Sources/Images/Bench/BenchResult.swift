/// One throughput figure of the data pipeline.
public struct BenchResult: Codable, Sendable {
    public var name: String
    /// Images per second over all threads.
    public var imagesPerSecond: Double
    public var threads: Int
    /// `imagesPerSecond / threads`.
    public var perCore: Double { imagesPerSecond / Double(threads) }
    public var detail: String
}
