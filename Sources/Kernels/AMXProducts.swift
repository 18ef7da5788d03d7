// The AMX products (CKernels' amx_gemm.c) over the threads a rank owns: the output columns are
// split in pairs of 32 (whole B panels) among `BLAS.threadCount` threads, so packing B and the
// tile loop run in parallel as OpenBLAS's sgemm does; every output is still computed by one thread
// in one order, so results do not depend on the thread count. A is rounded to bf16 once, by the
// calling thread.

import CKernels
import Dispatch

public enum AMX {
    /// Runs `body` over `0 ..< pairs` split into one contiguous range per thread (`threads`,
    /// default the BLAS thread count; one range when there is one thread or one pair).
    public static func forEachPairRange(_ pairs: Int, threads: Int = BLAS.threadCount,
                                        _ body: @Sendable (Range<Int>) -> Void) {
        let parts = max(1, min(threads, pairs))
        if parts == 1 { body(0..<pairs); return }
        DispatchQueue.concurrentPerform(iterations: parts) { t in body(t * pairs / parts ..< (t + 1) * pairs / parts) }
    }

    /// Column pairs of an `N`-column product: `(N + 31) / 32`.
    public static func pairs(_ n: Int) -> Int { (n + 31) / 32 }

    /// B from fp32 W packed into the calling thread's AMX buffer (`tk_amx_b_scratch`): `Wᵀ`
    /// (`transposedW`, W `[N, ldw]`) or W (`[K, ldw]`), rounded to bf16.
    public static func packedB(n: Int, k: Int, w: UnsafePointer<Float>, ldw: Int, transposedW: Bool) -> UnsafePointer<UInt32> {
        guard let panel = tk_amx_b_scratch(n, k) else { fatalError("AMX: out of memory for a weight panel") }
        let p = Pointers(w: w, panel: panel)
        StepProfile.measure(.gemm) {
            forEachPairRange(pairs(n)) { r in
                tk_amx_pack_b_f32_pairs(n, k, p.w, ldw, transposedW ? 1 : 0, p.panel, r.lowerBound, r.upperBound)
            }
        }
        return UnsafePointer(panel)
    }

    /// Addresses shared by the threads of one product (each writes only its own columns).
    struct Pointers: @unchecked Sendable {
        var w: UnsafePointer<Float>? = nil
        var panel: UnsafeMutablePointer<UInt32>? = nil
        var a: UnsafePointer<UInt16>? = nil
        var b: UnsafePointer<UInt32>? = nil
        var c: UnsafeMutablePointer<Float>? = nil
    }
}

/// `C[M, N] = A[M, K] · B` (+ `C` when `beta` is 1) on AMX, B already packed (`tk_amx_pack_b_*`),
/// the column pairs split among the rank's threads.
public func amxGemm(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, packedB: UnsafePointer<UInt32>,
                    c: UnsafeMutablePointer<Float>, ldc: Int, beta: Float) {
    precondition(m >= 0 && n >= 0 && k >= 0 && (beta == 0 || beta == 1), "amxGemm: bad arguments")
    precondition(LinearCompute.amxAvailable, "amxGemm: AMX is not available")
    if m == 0 || n == 0 { return }
    StepProfile.measure(.gemm) {
        let p = AMX.Pointers(a: tk_amx_pack_a(m, k, a, lda), b: packedB, c: c)
        AMX.forEachPairRange(AMX.pairs(n)) { r in
            tk_amx_tiles(m, n, k, p.a, p.b, p.c, ldc, beta, r.lowerBound, r.upperBound)
        }
    }
}
