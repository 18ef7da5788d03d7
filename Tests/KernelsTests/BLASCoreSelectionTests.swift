import Testing
@testable import Kernels

@Suite struct BLASCoreSelectionTests {
    let avx512: Set<String> = ["avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512dq"]

    @Test func prefersTheWidestKernelsTheFlagsAllow() {
        #expect(BLASCoreSelection.preferredCoreType(cpuFlags: avx512) == "SkylakeX")
        #expect(BLASCoreSelection.preferredCoreType(cpuFlags: avx512.union(["avx512_bf16"])) == "Cooperlake")
        #expect(BLASCoreSelection.preferredCoreType(cpuFlags: ["avx", "avx2", "fma"]) == "Haswell")
        #expect(BLASCoreSelection.preferredCoreType(cpuFlags: ["sse2"]) == nil)
    }

    @Test func switchesOnlyToFasterKernels() {
        #expect(BLASCoreSelection(loaded: "Prescott", cpuFlags: avx512).shouldSwitch)
        #expect(BLASCoreSelection(loaded: "Haswell", cpuFlags: avx512).shouldSwitch)
        #expect(!BLASCoreSelection(loaded: "SkylakeX", cpuFlags: avx512).shouldSwitch)
        #expect(!BLASCoreSelection(loaded: "Cooperlake", cpuFlags: avx512).shouldSwitch)
        #expect(!BLASCoreSelection(loaded: "Haswell", cpuFlags: ["avx2", "fma"]).shouldSwitch)
        #expect(!BLASCoreSelection(loaded: "Prescott", cpuFlags: ["sse2"]).shouldSwitch)
    }

    @Test func thisMachineReportsItsKernels() {
        #expect(!BLAS.coreName.isEmpty)
        #expect(BLAS.threadCount >= 1)
    }
}
