// RMSNorm (Llama): out = x / sqrt(mean(x²) + eps) · weight, per row.
// Legend: N = rows (tokens), C = channels (hidden size).
// Forward keeps rstd per row so the backward can reuse it without another pass over x.

/// Root-mean-square layer normalisation, forward (backward lands next to it).
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
