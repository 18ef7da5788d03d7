// bf16 products for the frozen linears: the weight tile and the activations are rounded to bf16
// and multiplied into fp32 sums, on AMX tiles (tdpbf16ps, CKernels' amx_gemm.c) where the CPU
// has them, else with AVX512-BF16 dot products (vdpbf16ps, `tk_bf16_gemm`); Debian's OpenBLAS has
// no sbgemm. LoRA, attention and the optimizer stay fp32. The choice is part of the running
// call's ComputeContext (the command line's default: bf16 where AMX is present, fp32 elsewhere).

import CKernels

/// Precision of the frozen linears' matrix products.
public enum ComputePrecision: String, CaseIterable, Sendable {
    case fp32, bf16
}

/// What the CPU offers for the frozen linears' products (the choice is `ComputeContext.precision`).
public enum LinearCompute {
    /// Whether this CPU can run the bf16 products (AVX512-BF16 or AMX).
    public static var bf16Available: Bool { tk_bf16_available() != 0 || amxAvailable }

    /// Whether the bf16 products run on AMX tiles (the CPU has AMX-BF16, the OS grants the tile
    /// state, the AVX-512 kernels are in use and `TESSERA_AMX` is not 0).
    public static var amxAvailable: Bool { tk_amx_available() != 0 }

    /// Whether the CPU and OS support AMX-BF16 at all (whatever TESSERA_AMX or the kernel path say).
    public static var amxSupported: Bool { tk_amx_supported() != 0 }

    /// The precision a command uses when not told: bf16 where AMX is available, else fp32.
    public static var defaultPrecision: ComputePrecision { amxAvailable ? .bf16 : .fp32 }

    /// The instructions behind `precision`, for reports: "fp32 sgemm (OpenBLAS)",
    /// "bf16 AMX (tdpbf16ps)" or "bf16 AVX512-BF16 (vdpbf16ps)".
    public static func kernelDescription(_ precision: ComputePrecision) -> String {
        switch precision {
        case .fp32: return "fp32 sgemm (OpenBLAS)"
        case .bf16: return amxAvailable ? "bf16 AMX (tdpbf16ps)" : "bf16 AVX512-BF16 (vdpbf16ps)"
        }
    }
}

/// Row-major `C[M, N] = A[M, K] · B[K, N]` (+ `C` when `beta` is 1) with A and B rounded to bf16,
/// fp32 sums; B is `Wᵀ` (`transposedW`, W `[N, ldw]`) or W itself (`[K, ldw]`).
public func bf16gemm(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, w: UnsafePointer<Float>, ldw: Int,
                     transposedW: Bool, c: UnsafeMutablePointer<Float>, ldc: Int, beta: Float) {
    precondition(m >= 0 && n >= 0 && k >= 0 && (beta == 0 || beta == 1), "bf16gemm: bad arguments")
    precondition(LinearCompute.bf16Available, "bf16gemm: this CPU has neither AVX512-BF16 nor AMX")
    if m == 0 || n == 0 { return }
    if LinearCompute.amxAvailable {
        let panel = AMX.packedB(n: n, k: k, w: w, ldw: ldw, transposedW: transposedW)
        amxGemm(m: m, n: n, k: k, a: a, lda: lda, packedB: panel, c: c, ldc: ldc, beta: beta)
    } else {
        StepProfile.measure(.gemm) { tk_bf16_gemm(m, n, k, a, lda, w, ldw, transposedW ? 1 : 0, c, ldc, beta) }
    }
}
