// RMSNorm (Llama): out = x / sqrt(mean(x²) + eps) · weight, per row.
// Legend: N = rows (tokens), C = channels (hidden size).
// Forward keeps rstd per row so the backward can reuse it without another pass over x.
// Backward needs the forward's input x (so a training forward must not normalise in place).

import CKernels

/// Root-mean-square layer normalisation, forward and backward.
public enum RMSNorm {
    /// `out[n, :] = inp[n, :] · rstd[n] · weight`, `rstd[n] = 1 / sqrt(mean(inp[n, :]²) + eps)`.
    ///
    /// - Parameters:
    ///   - out: `[N, C]`; may alias `inp`.
    ///   - rstd: `[N]`, written (saved for the backward).
    ///   - inp: `[N, C]`.
    ///   - weight: `[C]`.
    @inlinable
    public static func forward(
        out: UnsafeMutablePointer<Float>,       // [N, C]
        rstd: UnsafeMutablePointer<Float>,      // [N]
        inp: UnsafePointer<Float>,              // [N, C]
        weight: UnsafePointer<Float>,           // [C]
        rows: Int, channels: Int, eps: Float
    ) {
        precondition(rows >= 0 && channels > 0, "RMSNorm: bad shape")
        // fp32 accumulation like HF (variance computed in float32); HF order: (x · rstd) rounded
        // to fp32, then · weight. Vectorised in CKernels.
        StepProfile.measure(.elementwise) {
            tk_rmsnorm_forward(out, rstd, inp, weight, rows, channels, eps)
        }
    }

    /// Backward of `forward`: `dinp` from `dout`, the forward's input and its saved `rstd`.
    /// The norm weight is frozen in LoRA training, so `dweight` is optional.
    ///
    /// With `y_c = x_c·r·w_c`, `r = (Σ_j x_j²/C + eps)^(-1/2)`, `∂r/∂x_c = -r³·x_c/C`:
    /// `dx_c = r·w_c·dy_c - (r³/C)·x_c·Σ_j dy_j·w_j·x_j`.
    ///
    /// - Parameters:
    ///   - dinp: `[N, C]`, **overwritten** (activation gradient); may alias `dout`.
    ///   - dweight: `[C]`, **accumulated** (`+=`, parameter gradient) when not nil.
    ///   - dout: `[N, C]`.
    ///   - inp: `[N, C]`, the forward's `inp`.
    ///   - weight: `[C]`.
    ///   - rstd: `[N]`, as written by `forward`.
    @inlinable
    public static func backward(
        dinp: UnsafeMutablePointer<Float>,      // [N, C]
        dweight: UnsafeMutablePointer<Float>?,  // [C]
        dout: UnsafePointer<Float>,             // [N, C]
        inp: UnsafePointer<Float>,              // [N, C]
        weight: UnsafePointer<Float>,           // [C]
        rstd: UnsafePointer<Float>,             // [N]
        rows: Int, channels: Int
    ) {
        precondition(rows >= 0 && channels > 0, "RMSNorm: bad shape")
        StepProfile.measure(.elementwise) {
            // y[c] = (x[c] * r) * weight[c]  ⇒  dw[c] += dy[c] · (x[c] · r), before dinp (which
            // may alias dout) is written.
            if let dw = dweight {
                for n in 0..<rows {
                    let x = inp + n * channels, dy = dout + n * channels, r = rstd[n]
                    for c in 0..<channels { dw[c] += dy[c] * (x[c] * r) }
                }
            }
            // dx = r·w·dy − (r³/C · Σ_j dy_j·w_j·x_j)·x per row, vectorised in CKernels.
            tk_rmsnorm_backward(dinp, dout, inp, weight, rstd, rows, channels)
        }
    }
}
