// Causal grouped-query attention of one sequence, as matrix products per head:
// scores = scale · Q_h · K_gᵀ, causal softmax, out_h = P · V_g, with g = h / (H / G).
// Legend: T = new (query) tokens, S = past + T keys, H = query heads, G = key/value heads,
// D = head dim. Query t sits at position past + t and sees keys 0...past + t.
// Queries go in blocks of `queryBlock` rows so the masked upper triangle is mostly skipped.
// Packed sequences: call once per document with q/k/v pointers at its first token.

import Foundation

/// Causal GQA attention, forward (backward lands next to it).
public enum Attention {
    /// Query rows per matrix product; keys beyond the block's last query are not multiplied.
    public static let queryBlock = 64

    /// Computes `out[t, h·D ..< (h+1)·D]` for every query `t` and head `h`.
    ///
    /// - Parameters:
    ///   - out: `[T, qStride]`; heads at `h·D`. Must not alias `q`, `k`, `v`.
    ///   - probs: `[H, T, S]`, written: the attention probabilities (zero above the diagonal),
    ///     kept for the backward.
    ///   - q: `[T, qStride]`, RoPE already applied.
    ///   - k: `[S, kvStride]`, RoPE applied; keys of positions `0..<S` (cache + new).
    ///   - v: `[S, kvStride]`.
    ///   - scale: usually `1 / sqrt(D)`.
    @inlinable
    public static func forward(
        out: UnsafeMutablePointer<Float>,   // [T, qStride]
        probs: UnsafeMutablePointer<Float>, // [H, T, S]
        q: UnsafePointer<Float>,            // [T, qStride]
        k: UnsafePointer<Float>,            // [S, kvStride]
        v: UnsafePointer<Float>,            // [S, kvStride]
        queries: Int, past: Int,
        heads: Int, kvHeads: Int, headDim: Int,
        qStride: Int, kvStride: Int,
        scale: Float
    ) {
        precondition(queries >= 0 && past >= 0, "Attention: negative length")
        precondition(heads > 0 && kvHeads > 0 && heads % kvHeads == 0, "Attention: heads must be a multiple of kvHeads")
        precondition(qStride >= heads * headDim && kvStride >= kvHeads * headDim, "Attention: stride too small")
        let t = queries
        let s = past + queries
        let group = heads / kvHeads  // query heads per kv head (llama2.c kv_mul)
        for h in 0..<heads {
            let g = h / group
            let qh = q + h * headDim
            let kg = k + g * headDim
            let vg = v + g * headDim
            let ph = probs + h * t * s
            var t0 = 0
            while t0 < t {
                let rows = min(queryBlock, t - t0)
                let keys = past + t0 + rows  // keys the block's last query can see
                let block = ph + t0 * s
                // scores [rows, keys] = scale · Q [rows, D] · Kᵀ [D, keys]
                sgemm(.none, .transposed, m: rows, n: keys, k: headDim, alpha: scale,
                      a: qh + t0 * qStride, lda: qStride, b: kg, ldb: kvStride,
                      beta: 0, c: block, ldc: s)
                for r in 0..<rows {
                    let row = block + r * s
                    let visible = past + t0 + r + 1
                    Softmax.row(out: row, inp: row, length: visible)
                    (row + visible).update(repeating: 0, count: s - visible)
                }
                // out [rows, D] = P [rows, keys] · V [keys, D]
                sgemm(.none, .none, m: rows, n: headDim, k: keys,
                      a: UnsafePointer(block), lda: s, b: vg, ldb: kvStride,
                      beta: 0, c: out + t0 * qStride + h * headDim, ldc: qStride)
                t0 += rows
            }
        }
    }
}
