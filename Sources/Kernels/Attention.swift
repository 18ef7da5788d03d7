// Causal grouped-query attention of one sequence, as matrix products per head:
// scores = scale · Q_h · K_gᵀ, causal softmax, out_h = P · V_g, with g = h / (H / G).
// Legend: T = new (query) tokens, S = past + T keys, H = query heads, G = key/value heads,
// D = head dim. Query t sits at position past + t and sees keys 0...past + t, or with a sliding
// window W the last W of them (keys past + t - W < j ≤ past + t, as transformers masks Mistral).
// Keys outside the window get probability 0; their products still run (the window is a mask).
// Queries go in blocks of `queryBlock` rows so the masked upper triangle is mostly skipped.
// Packed sequences: call once per document with q/k/v pointers at its first token (and, in the
// backward, dq/dk/dv pointers at the same token).
// Backward recomputes P block by block from q and k (one [queryBlock, S] tile per head at a
// time) instead of keeping the forward's [H, T, S] probabilities for every layer; the recompute
// runs the forward's exact arithmetic, so it reproduces the forward's P bit for bit.
// With bf16 products on AMX, the products whose A is not transposed (Q·Kᵀ, P·V, dO·Vᵀ, dS·K) run
// in bf16 on AMX tiles (`product`); softmax and its backward stay fp32.

import Foundation

/// Causal GQA attention, forward and backward.
public enum Attention {
    /// `C = alpha · A · B` (beta 0) or `C += A · B` (beta 1, alpha 1), A not transposed, B = `Wᵀ`
    /// (`.transposed`) or W. With bf16 products on AMX (`--compute bf16` where AMX is present) the
    /// operands are rounded to bf16 and multiplied on AMX tiles, then scaled by alpha; otherwise
    /// fp32 sgemm. The products with a transposed A (dV, dK) stay sgemm. Either way the forward and
    /// the backward's recompute of P run the same arithmetic.
    @inlinable
    static func product(_ transB: Transpose, m: Int, n: Int, k: Int, alpha: Float = 1,
                        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        guard ComputeContext.current.precision == .bf16 && LinearCompute.amxAvailable else {
            sgemm(.none, transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
            return
        }
        precondition(alpha == 1 || beta == 0, "Attention.product: alpha with beta 1")
        bf16gemm(m: m, n: n, k: k, a: a, lda: lda, w: b, ldw: ldb, transposedW: transB == .transposed,
                 c: c, ldc: ldc, beta: beta)
        if alpha != 1 { for r in 0..<m { VectorMath.scale(c + r * ldc, count: n, by: alpha) } }
    }

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
    ///   - window: keys a query sees at most, itself included (sliding-window attention); nil: all.
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
        scale: Float, window: Int? = nil
    ) {
        precondition(queries >= 0 && past >= 0, "Attention: negative length")
        precondition((window ?? 1) >= 1, "Attention: window must be positive")
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
                product(.transposed, m: rows, n: keys, k: headDim, alpha: scale,
                        a: qh + t0 * qStride, lda: qStride, b: kg, ldb: kvStride,
                        beta: 0, c: block, ldc: s)
                for r in 0..<rows {
                    let row = block + r * s
                    let visible = past + t0 + r + 1, first = firstKey(visible: visible, window: window)
                    Softmax.row(out: row + first, inp: row + first, length: visible - first)
                    row.update(repeating: 0, count: first)
                    (row + visible).update(repeating: 0, count: s - visible)
                }
                // out [rows, D] = P [rows, keys] · V [keys, D]
                product(.none, m: rows, n: headDim, k: keys,
                        a: UnsafePointer(block), lda: s, b: vg, ldb: kvStride,
                        beta: 0, c: out + t0 * qStride + h * headDim, ldc: qStride)
                t0 += rows
            }
        }
    }

    /// The first key a query that sees keys `0 ..< visible` attends to under `window`.
    @inlinable @inline(__always)
    static func firstKey(visible: Int, window: Int?) -> Int {
        guard let window else { return 0 }
        return max(0, visible - window)
    }

    /// Scratch elements `backward` needs: two tiles `[min(T, queryBlock), S]`.
    @inlinable
    public static func backwardScratchCount(queries: Int, past: Int) -> Int {
        2 * min(queries, queryBlock) * (past + queries)
    }

    /// Backward of `forward` for one sequence (or one packed document), recomputing the
    /// probabilities from `q` and `k`.
    ///
    /// Per head `h` (KV head `g`) and query block, with `dS` the gradient of the scaled scores:
    /// `dV_g += Pᵀ·dO_h`, `dP = dO_h·V_gᵀ`, `dS = P ⊙ (dP - rowsum(dP ⊙ P))`,
    /// `dQ_h = scale·dS·K_g`, `dK_g += scale·dSᵀ·Q_h`.
    ///
    /// - Parameters:
    ///   - dq: `[T, qStride]`, heads at `h·D`: **overwritten** (activation gradient).
    ///   - dk: `[S, kvStride]`: the `G·D` head columns of rows `0..<S` are **overwritten**
    ///     (activation gradient; the query heads of a group are summed inside the call), or
    ///     **accumulated** when `accumulateKeyValue` is true.
    ///   - dv: `[S, kvStride]`, like `dk`.
    ///   - scratch: `backwardScratchCount(queries:past:)` elements, contents undefined on return.
    ///   - dout: `[T, qStride]`, gradient of the forward's `out`.
    ///   - q, k, v, queries … scale: exactly the forward's arguments.
    ///   - accumulateKeyValue: add into `dk`/`dv` instead of overwriting them; for callers that
    ///     split the query heads of one KV head over several calls (zero `dk`/`dv` first).
    ///
    /// No output may alias an input or another output.
    @inlinable
    public static func backward(
        dq: UnsafeMutablePointer<Float>,      // [T, qStride]
        dk: UnsafeMutablePointer<Float>,      // [S, kvStride]
        dv: UnsafeMutablePointer<Float>,      // [S, kvStride]
        scratch: UnsafeMutablePointer<Float>, // [2, min(T, queryBlock), S]
        dout: UnsafePointer<Float>,           // [T, qStride]
        q: UnsafePointer<Float>,              // [T, qStride]
        k: UnsafePointer<Float>,              // [S, kvStride]
        v: UnsafePointer<Float>,              // [S, kvStride]
        queries: Int, past: Int,
        heads: Int, kvHeads: Int, headDim: Int,
        qStride: Int, kvStride: Int,
        scale: Float, window: Int? = nil,
        accumulateKeyValue: Bool = false
    ) {
        precondition(queries >= 0 && past >= 0, "Attention: negative length")
        precondition((window ?? 1) >= 1, "Attention: window must be positive")
        precondition(heads > 0 && kvHeads > 0 && heads % kvHeads == 0, "Attention: heads must be a multiple of kvHeads")
        precondition(qStride >= heads * headDim && kvStride >= kvHeads * headDim, "Attention: stride too small")
        let t = queries
        let s = past + queries
        let group = heads / kvHeads
        if !accumulateKeyValue {
            for j in 0..<s {
                (dk + j * kvStride).update(repeating: 0, count: kvHeads * headDim)
                (dv + j * kvStride).update(repeating: 0, count: kvHeads * headDim)
            }
        }
        let tile = min(t, queryBlock)
        let p = scratch              // [tile, S] probabilities of the block
        let dp = scratch + tile * s  // [tile, S] dP, then dS in place
        for h in 0..<heads {
            let g = h / group
            let qh = q + h * headDim
            let kg = k + g * headDim
            let vg = v + g * headDim
            let doh = dout + h * headDim
            let dqh = dq + h * headDim
            let dkg = dk + g * headDim
            let dvg = dv + g * headDim
            var t0 = 0
            while t0 < t {
                let rows = min(queryBlock, t - t0)
                let keys = past + t0 + rows
                // Recompute, as in the forward: scores = scale · Q · Kᵀ; P = causal softmax(scores)
                product(.transposed, m: rows, n: keys, k: headDim, alpha: scale,
                        a: qh + t0 * qStride, lda: qStride, b: kg, ldb: kvStride,
                        beta: 0, c: p, ldc: s)
                for r in 0..<rows {
                    let row = p + r * s
                    let visible = past + t0 + r + 1, first = firstKey(visible: visible, window: window)
                    Softmax.row(out: row + first, inp: row + first, length: visible - first)
                    row.update(repeating: 0, count: first)
                    (row + visible).update(repeating: 0, count: keys - visible)
                }
                // out [rows, D] = P [rows, keys] · V [keys, D]
                //   ⇒ dV [keys, D] += Pᵀ [keys, rows] · dO [rows, D]
                sgemm(.transposed, .none, m: keys, n: headDim, k: rows,
                      a: UnsafePointer(p), lda: s, b: doh + t0 * qStride, ldb: qStride,
                      beta: 1, c: dvg, ldc: kvStride)
                //   ⇒ dP [rows, keys] = dO [rows, D] · Vᵀ [D, keys]
                product(.transposed, m: rows, n: keys, k: headDim,
                        a: doh + t0 * qStride, lda: qStride, b: vg, ldb: kvStride,
                        beta: 0, c: dp, ldc: s)
                // Softmax.row(out: row, inp: row, length: visible)  ⇒  dS = P ⊙ (dP - rowsum(dP ⊙ P));
                // masked keys had P = 0, so their dS is 0.
                for r in 0..<rows {
                    let visible = past + t0 + r + 1, first = firstKey(visible: visible, window: window)
                    let row = dp + r * s
                    Softmax.rowBackward(dinp: row + first, dout: row + first, out: p + r * s + first, length: visible - first)
                    row.update(repeating: 0, count: first)
                    (row + visible).update(repeating: 0, count: keys - visible)
                }
                // scores [rows, keys] = scale · Q [rows, D] · Kᵀ [D, keys]
                //   ⇒ dQ [rows, D] = scale · dS [rows, keys] · K [keys, D]
                product(.none, m: rows, n: headDim, k: keys, alpha: scale,
                        a: UnsafePointer(dp), lda: s, b: kg, ldb: kvStride,
                        beta: 0, c: dqh + t0 * qStride, ldc: qStride)
                //   ⇒ dK [keys, D] += scale · dSᵀ [keys, rows] · Q [rows, D]
                sgemm(.transposed, .none, m: keys, n: headDim, k: rows, alpha: scale,
                      a: UnsafePointer(dp), lda: s, b: qh + t0 * qStride, ldb: qStride,
                      beta: 1, c: dkg, ldc: kvStride)
                t0 += rows
            }
        }
    }
}
