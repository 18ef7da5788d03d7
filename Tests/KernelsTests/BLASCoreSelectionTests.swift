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

    /// /proc/cpuinfo flag lines of real CPUs (abridged to the SIMD-relevant flags and a few others).
    static let zen3: Set<String> = Set("""
        fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ht \
        syscall nx mmxext fxsr_opt pdpe1gb rdtscp lm constant_tsc rep_good nopl nonstop_tsc cpuid extd_apicid \
        aperfmperf pni pclmulqdq monitor ssse3 fma cx16 pcid sse4_1 sse4_2 x2apic movbe popcnt aes xsave avx \
        f16c rdrand lahf_lm cmp_legacy svm extapic cr8_legacy abm sse4a misalignsse 3dnowprefetch osvw ibs \
        skinit wdt tce topoext perfctr_core perfctr_nb bpext perfctr_llc mwaitx cpb cat_l3 cdp_l3 invpcid_single \
        hw_pstate ssbd mba ibrs ibpb stibp vmmcall fsgsbase bmi1 avx2 smep bmi2 erms invpcid cqm rdt_a rdseed \
        adx smap clflushopt clwb sha_ni xsaveopt xsavec xgetbv1 xsaves cqm_llc cqm_occup_llc cqm_mbm_total \
        cqm_mbm_local clzero irperf xsaveerptr rdpru wbnoinvd amd_ppin brs arat npt lbrv svm_lock nrip_save \
        tsc_scale vmcb_clean flushbyasid decodeassists pausefilter pfthreshold v_vmsave_vmload vgif v_spec_ctrl \
        umip pku ospke vaes vpclmulqdq rdpid overflow_recov succor smca fsrm
        """.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init))
    static let zen4: Set<String> = zen3.union([
        "avx512f", "avx512dq", "avx512ifma", "avx512cd", "avx512bw", "avx512vl", "avx512_bf16", "avx512vbmi",
        "avx512_vbmi2", "gfni", "avx512_vnni", "avx512_bitalg", "avx512_vpopcntdq", "la57", "flush_l1d",
    ])
    static let sapphireRapids: Set<String> = Set("""
        fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ss \
        ht syscall nx pdpe1gb rdtscp lm constant_tsc rep_good nopl xtopology nonstop_tsc cpuid tsc_known_freq \
        pni pclmulqdq ssse3 fma cx16 pcid sse4_1 sse4_2 x2apic movbe popcnt tsc_deadline_timer aes xsave avx \
        f16c rdrand hypervisor lahf_lm abm 3dnowprefetch cpuid_fault ssbd ibrs ibpb stibp ibrs_enhanced \
        fsgsbase tsc_adjust bmi1 avx2 smep bmi2 erms invpcid avx512f avx512dq rdseed adx smap avx512ifma \
        clflushopt clwb avx512cd sha_ni avx512bw avx512vl xsaveopt xsavec xgetbv1 xsaves avx_vnni avx512_bf16 \
        wbnoinvd arat avx512vbmi umip pku ospke avx512_vbmi2 gfni vaes vpclmulqdq avx512_vnni avx512_bitalg \
        avx512_vpopcntdq rdpid bus_lock_detect cldemote movdiri movdir64b fsrm md_clear serialize tsxldtrk \
        ibt amx_bf16 avx512_fp16 amx_tile amx_int8 flush_l1d arch_capabilities
        """.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init))

    @Test func realCPUs() {
        // Zen 3 (EPYC 7003): AVX2 + FMA, no AVX-512. Debian's OpenBLAS loads Zen or Haswell: keep.
        #expect(BLASCoreSelection.preferredCoreType(cpuFlags: Self.zen3) == "Haswell")
        #expect(!BLASCoreSelection(loaded: "Zen", cpuFlags: Self.zen3).shouldSwitch)
        #expect(!BLASCoreSelection(loaded: "Haswell", cpuFlags: Self.zen3).shouldSwitch)
        #expect(BLASCoreSelection(loaded: "Prescott", cpuFlags: Self.zen3).shouldSwitch)
        // Zen 4 (EPYC 9004): AVX-512 with BF16, which OpenBLAS 0.3.21 does not recognise (it loads Zen).
        #expect(BLASCoreSelection.preferredCoreType(cpuFlags: Self.zen4) == "Cooperlake")
        #expect(BLASCoreSelection(loaded: "Zen", cpuFlags: Self.zen4).shouldSwitch)
        // Sapphire Rapids: AVX-512, BF16, AMX; OpenBLAS may load SapphireRapids or Cooperlake: keep both.
        #expect(BLASCoreSelection.preferredCoreType(cpuFlags: Self.sapphireRapids) == "Cooperlake")
        #expect(!BLASCoreSelection(loaded: "SapphireRapids", cpuFlags: Self.sapphireRapids).shouldSwitch)
        #expect(!BLASCoreSelection(loaded: "Cooperlake", cpuFlags: Self.sapphireRapids).shouldSwitch)
        #expect(BLASCoreSelection(loaded: "Haswell", cpuFlags: Self.sapphireRapids).shouldSwitch)
    }

    @Test func keepsAnUnrecognisedLoadedCore() {
        // A newer OpenBLAS may name a core this table does not know; it recognised the CPU, so keep it.
        #expect(!BLASCoreSelection(loaded: "Zen5", cpuFlags: Self.zen4).shouldSwitch)
        #expect(!BLASCoreSelection(loaded: "GraniteRapids", cpuFlags: Self.sapphireRapids).shouldSwitch)
    }

    @Test func thisMachineReportsItsKernels() {
        #expect(!BLAS.coreName.isEmpty)
        #expect(BLAS.threadCount >= 1)
    }
}
