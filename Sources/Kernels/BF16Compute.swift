// Optional bf16 products for the frozen linears (never the default): on CPUs with AVX512-BF16
// the dequantized weight tile and the activations are rounded to bf16 and multiplied with
// vdpbf16ps into fp32 sums (CKernels' `tk_bf16_gemm`); Debian's OpenBLAS has no sbgemm. LoRA,
// attention and the optimizer stay fp32. A process-wide switch set once by the command line.

import CKernels

/// Precision of the frozen linears' matrix products.
public enum ComputePrecision: String, CaseIterable, Sendable {
    case fp32, bf16
}

/// The process-wide choice for frozen linears (fp32 unless a command sets bf16).
public enum LinearCompute {
    nonisolated(unsafe) public static var precision = ComputePrecision.fp32

    /// Whether this CPU can run the bf16 products.
    public static var bf16Available: Bool { tk_bf16_available() != 0 }
}

/// Row-major `C[M, N] = A[M, K] · B[K, N]` (+ `C` when `beta` is 1) with A and B rounded to bf16,
/// fp32 sums; B is `Wᵀ` (`transposedW`, W `[N, ldw]`) or W itself (`[K, ldw]`).
public func bf16gemm(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, w: UnsafePointer<Float>, ldw: Int,
                     transposedW: Bool, c: UnsafeMutablePointer<Float>, ldc: Int, beta: Float) {
    precondition(m >= 0 && n >= 0 && k >= 0 && (beta == 0 || beta == 1), "bf16gemm: bad arguments")
    precondition(LinearCompute.bf16Available, "bf16gemm: this CPU has no AVX512-BF16")
    if m == 0 || n == 0 { return }
    StepProfile.measure(.gemm) {
        tk_bf16_gemm(m, n, k, a, lda, w, ldw, transposedW ? 1 : 0, c, ldc, beta)
    }
}
