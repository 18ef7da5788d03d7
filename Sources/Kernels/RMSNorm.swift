// RMSNorm (Llama): out = x / sqrt(mean(x²) + eps) · weight, per row.
// Legend: N = rows (tokens), C = channels (hidden size).
// Forward keeps rstd per row so the backward can reuse it without another pass over x.
// Backward needs the forward's input x (so a training forward must not normalise in place).

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
        StepProfile.measure(.elementwise) {
            for n in 0..<rows {
                let x = inp + n * channels
                let y = out + n * channels
                // fp32 accumulation like HF (variance computed in float32).
                var sumSquares: Float = 0
                for c in 0..<channels { sumSquares += x[c] * x[c] }
                let r = 1 / (sumSquares / Float(channels) + eps).squareRoot()
                rstd[n] = r
                // HF order: (x · rstd) rounded to fp32, then · weight.
                for c in 0..<channels { y[c] = (x[c] * r) * weight[c] }
            }
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
            for n in 0..<rows {
                let x = inp + n * channels
                let dy = dout + n * channels
                let dx = dinp + n * channels
                let r = rstd[n]
                // y[c] = (x[c] * r) * weight[c]
                if let dw = dweight {
                    for c in 0..<channels { dw[c] += dy[c] * (x[c] * r) }
                }
                var dot: Float = 0  // Σ_j dy_j·w_j·x_j
                for c in 0..<channels { dot += dy[c] * weight[c] * x[c] }
                let k = dot * r * r * r / Float(channels)
                // Reads of dy[c] precede the write of dx[c], so dinp may alias dout.
                for c in 0..<channels { dx[c] = r * weight[c] * dy[c] - k * x[c] }
            }
        }
    }
}
