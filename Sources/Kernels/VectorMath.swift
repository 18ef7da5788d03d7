// Reductions and exp passes over one row, vectorised in CKernels (AVX-512 or AVX2 + FMA,
// chosen at run time; `TESSERA_KERNELS=avx512|avx2|scalar` forces a path). The exp is CKernels'
// own, within 1 ulp of the exact value; all three paths give bit-identical results.
// Legend: L = row length.

import CKernels

/// Vectorised row operations for the softmax and cross-entropy passes.
public enum VectorMath {
    /// Whether a vector path (AVX-512 or AVX2) is in use.
    public static var simdEnabled: Bool { tk_simd_enabled() != 0 }

    /// The CKernels path in use: "avx512", "avx2" or "scalar".
    public static var kernelPath: String { String(cString: tk_kernel_path_name(tk_kernel_path())) }

    /// The fastest path this CPU runs (what is used unless `TESSERA_KERNELS` asks otherwise).
    public static var bestKernelPath: String {
        let best = (0...2).last { tk_kernel_path_supported(Int32($0)) != 0 } ?? 0
        return String(cString: tk_kernel_path_name(Int32(best)))
    }

    /// `exp(x)` as the vectorised kernels compute it.
    public static func exp(_ x: Float) -> Float { tk_exp(x) }

    /// Largest of `x[0..<L]` (`-inf` when empty).
    public static func max(_ x: UnsafePointer<Float>, count: Int) -> Float {
        precondition(count >= 0, "VectorMath: negative count")
        return StepProfile.measure(.elementwise) { tk_max(x, count) }
    }

    /// `Σ exp(x[i] − shift)` summed in fp64; with `out`, also `out[i] = exp(x[i] − shift)`
    /// (`out` may be `x`).
    public static func expSum(_ x: UnsafePointer<Float>, count: Int, shift: Float,
                              storingInto out: UnsafeMutablePointer<Float>? = nil) -> Double {
        precondition(count >= 0, "VectorMath: negative count")
        return StepProfile.measure(.elementwise) { tk_exp_sum(out, x, count, shift) }
    }

    /// `x[i] *= factor`.
    public static func scale(_ x: UnsafeMutablePointer<Float>, count: Int, by factor: Float) {
        precondition(count >= 0, "VectorMath: negative count")
        StepProfile.measure(.elementwise) { tk_scale(x, count, factor) }
    }
}
