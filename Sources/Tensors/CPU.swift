import Foundation

/// What this machine's processor can run, from the kernel's report.
public enum CPU {
    /// The `flags` of the first processor in /proc/cpuinfo (empty where there is none).
    public static let flags: Set<String> = {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("flags") }),
              let colon = line.firstIndex(of: ":") else { return [] }
        return Set(line[line.index(after: colon)...].split(separator: " ").map(String.init))
    }()

    /// Whether code built for AVX2 and FMA (the `AVX2Kernels` module) may run here.
    public static var hasAVX2AndFMA: Bool { flags.isSuperset(of: ["avx2", "fma"]) }
}
