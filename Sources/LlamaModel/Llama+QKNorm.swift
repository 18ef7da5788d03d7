// The q/k norm of families that normalise each attention head (`Architecture.qkNorm`, Qwen3):
// after the q and k projections and before RoPE, every head's D values go through an RMSNorm
// with one `[D]` weight shared by all heads (`q_norm`, `k_norm`). The projections write their
// output to `qRaw` / `kRaw`, which the backward reads with the saved statistics. Heads of one
// token are contiguous in a row, so a token's heads are one RMSNorm call of `heads` rows of D.
// Legend: N = tokens, D = head dim.

import Kernels

extension Llama {
    /// `out[t, offset + h·D ..< +D] = rmsnorm(raw[t, same])` for the `heads` heads from column
    /// `offset` of rows of `rowStride` floats; `rstd[t · rowStride/D + offset/D + h]` is written.
    func headNormForward(out: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>,
                         raw: UnsafePointer<Float>, weight: FloatBuffer, tokens: Int, heads: Int,
                         offset: Int, rowStride: Int) {
        let d = config.headDim, eps = Float(config.rmsNormEps), perToken = rowStride / d
        guard heads > 0 else { return }
        for t in 0..<tokens {
            let at = t * rowStride + offset
            RMSNorm.forward(out: out + at, rstd: rstd + t * perToken + offset / d, inp: raw + at,
                            weight: weight.pointer, rows: heads, channels: d, eps: eps)
        }
    }

    /// Backward of `headNormForward`, in place: `grad` holds the gradient of the normed heads on
    /// entry and of `raw` on return (the same columns; the weight is frozen).
    func headNormBackward(grad: UnsafeMutablePointer<Float>, raw: UnsafePointer<Float>, rstd: UnsafePointer<Float>,
                          weight: FloatBuffer, tokens: Int, heads: Int, offset: Int, rowStride: Int) {
        let d = config.headDim, perToken = rowStride / d
        guard heads > 0 else { return }
        for t in 0..<tokens {
            let at = t * rowStride + offset
            RMSNorm.backward(dinp: grad + at, dweight: nil, dout: grad + at, inp: raw + at, weight: weight.pointer,
                             rstd: rstd + t * perToken + offset / d, rows: heads, channels: d)
        }
    }
}
