/// Buffers a layer borrows for the length of one call (im2col columns, Winograd tiles, products and
/// transformed weights, per-thread partial weight gradients, plain or Winograd-transformed), one per
/// compute thread. Layers run one after another, so one set serves every layer of a network instead
/// of each layer keeping its own; a buffer only grows, so after the first step nothing is allocated.
///
/// Ask on the thread that calls `Threads.parallel` (never inside a parallel body); the pointers
/// stay valid until the next request for the same slot.
public enum Scratch {
    public enum Slot: Int, CaseIterable, Sendable {
        case columns, tiles, products, partialGradient, transformedGradient, transformedWeights
    }

    nonisolated(unsafe) private static var held = [[Workspace]](repeating: [], count: Slot.allCases.count)

    /// `parts` buffers of at least `floats` floats each (contents unspecified), part `p` for the
    /// thread that runs part `p` of a `Threads.parallel` call.
    public static func buffers(_ slot: Slot, floats: Int, parts: Int) -> [UnsafeMutablePointer<Float>] {
        while held[slot.rawValue].count < parts { held[slot.rawValue].append(Workspace()) }
        return (0..<parts).map { held[slot.rawValue][$0].get([floats]).data }
    }

    /// The sizes in floats of the buffers held in `slot`, part 0 first.
    public static func capacities(_ slot: Slot) -> [Int] {
        held[slot.rawValue].map { $0.tensor?.capacity ?? 0 }
    }

    /// Frees every buffer (the next request allocates again).
    public static func release() {
        held = [[Workspace]](repeating: [], count: Slot.allCases.count)
    }

    /// Bytes held by every slot.
    public static var heldBytes: Int {
        held.joined().reduce(0) { $0 + ($1.tensor?.capacity ?? 0) * MemoryLayout<Float>.size }
    }
}
