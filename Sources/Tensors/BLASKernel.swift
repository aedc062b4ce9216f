import CBLAS
import Foundation

/// Which OpenBLAS kernels run the matrix products. Debian's OpenBLAS 0.3.21 picks its kernels from
/// the CPU's model number; a hypervisor that reports a generic "Xeon Processor" makes it fall back to
/// the SSE3 `Prescott` kernels, several times slower than the AVX2 or AVX-512 ones the CPU can run
/// (with identical results). The choice is made when the library loads, so a process that needs
/// another one must start again with `OPENBLAS_CORETYPE` set.
public enum BLASKernel {
    /// The kernel family in use, e.g. `SkylakeX`, `Haswell`, `Prescott`.
    public static var coreName: String { String(cString: openblas_get_corename()) }

    /// Families OpenBLAS falls back to when it does not recognise a CPU.
    static let fallbacks: Set<String> = ["Prescott", "Core2", "Penryn", "Dunnington", "Nehalem", "Katmai", "Northwood",
                                         "Banias", "Atom", "Unknown"]

    /// The family this CPU's features allow, when OpenBLAS fell back to a generic one and the user
    /// did not choose (`OPENBLAS_CORETYPE` unset). Nil when nothing should change.
    public static func betterCoreType(flags: Set<String>? = nil) -> String? {
        guard ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] == nil, fallbacks.contains(coreName) else {
            return nil
        }
        let features = flags ?? CPU.flags
        if features.isSuperset(of: ["avx512f", "avx512bw", "avx512dq", "avx512vl", "fma"]) { return "SkylakeX" }
        if features.isSuperset(of: ["avx2", "fma"]) { return "Haswell" }
        return nil
    }

    /// Starts this program again with the better kernels when `betterCoreType()` names some;
    /// returns (doing nothing) otherwise or if the restart fails.
    public static func restartWithBetterKernelsIfNeeded() {
        guard let core = betterCoreType() else { return }
        setenv("OPENBLAS_CORETYPE", core, 1)
        let arguments = CommandLine.unsafeArgv
        execv("/proc/self/exe", arguments)
    }
}
