@testable import Tensors
import XCTest

final class BLASKernelTests: XCTestCase {
    func testAGenericFallbackIsReplacedByWhatTheCPUSupports() {
        let avx512: Set<String> = ["avx2", "fma", "avx512f", "avx512bw", "avx512dq", "avx512vl"]
        if BLASKernel.fallbacks.contains(BLASKernel.coreName)
            && ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] == nil {
            XCTAssertEqual(BLASKernel.betterCoreType(flags: avx512), "SkylakeX")
            XCTAssertEqual(BLASKernel.betterCoreType(flags: ["avx2", "fma", "sse3"]), "Haswell")
            XCTAssertNil(BLASKernel.betterCoreType(flags: ["sse3", "ssse3"]))
        } else {
            // OpenBLAS recognised this CPU (or the user chose): nothing is changed.
            XCTAssertNil(BLASKernel.betterCoreType(flags: avx512))
        }
    }

    func testTheCPUFlagsAreRead() {
        let flags = CPU.flags
        if FileManager.default.fileExists(atPath: "/proc/cpuinfo") {
            XCTAssertTrue(flags.contains("sse2"), "x86-64 always has SSE2: \(flags.sorted().prefix(8))")
        }
    }
}
