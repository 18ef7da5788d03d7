// Rotary position embedding, Hugging Face "rotate_half" layout: within each head of D values
// the pairs are (i, i + D/2), rotated by angle pos · invFreq[i].
// Legend: N = tokens, H = heads, D = head dim, P = table positions.
// Positions are explicit per token, so packed sequences (positions restart at 0) and KV-cache
// offsets (positions start at `past`) need nothing special.

import CKernels
import Foundation

/// Llama 3 frequency scaling (`rope_scaling.rope_type == "llama3"` in HF configs).
public struct Llama3RoPEScaling: Sendable, Equatable {
    public var factor: Double
    public var lowFreqFactor: Double
    public var highFreqFactor: Double
    public var originalMaxPositionEmbeddings: Int

    public init(factor: Double, lowFreqFactor: Double, highFreqFactor: Double, originalMaxPositionEmbeddings: Int) {
        self.factor = factor
        self.lowFreqFactor = lowFreqFactor
        self.highFreqFactor = highFreqFactor
        self.originalMaxPositionEmbeddings = originalMaxPositionEmbeddings
    }
}

/// LongRoPE (Phi-3, Phi-4-mini; HF `rope_type` longrope, formerly su): per-frequency divisors,
/// `short_factor` while every position of a pass is below `original_max_position_embeddings`,
/// `long_factor` for the whole pass otherwise, and cos/sin scaled by an attention factor.
public struct LongRoPEScaling: Sendable, Equatable {
    /// `[R/2]` divisors of the inverse frequencies (R = rotary dim).
    public var shortFactor: [Double]
    public var longFactor: [Double]
    /// The context the model was pre-trained with: a pass reaching it uses `longFactor`.
    public var originalMaxPositionEmbeddings: Int
    /// `factor` / `attention_factor` when the config states them (else derived, `attentionScale`).
    public var factor: Double?
    public var attentionFactor: Double?

    public init(shortFactor: [Double], longFactor: [Double], originalMaxPositionEmbeddings: Int,
                factor: Double? = nil, attentionFactor: Double? = nil) {
        self.shortFactor = shortFactor
        self.longFactor = longFactor
        self.originalMaxPositionEmbeddings = originalMaxPositionEmbeddings
        self.factor = factor
        self.attentionFactor = attentionFactor
    }

    /// The factor on cos and sin, as transformers' `_compute_longrope_parameters`: the stated
    /// `attention_factor`, else `sqrt(1 + ln(s) / ln(original))` with `s` the stated `factor` or
    /// `max_position_embeddings / original`, and 1 when `s <= 1`.
    public func attentionScale(maxPositionEmbeddings: Int) -> Double {
        if let attentionFactor { return attentionFactor }
        let s = factor ?? Double(maxPositionEmbeddings) / Double(originalMaxPositionEmbeddings)
        return s <= 1 ? 1 : (1 + Foundation.log(s) / Foundation.log(Double(originalMaxPositionEmbeddings))).squareRoot()
    }
}

/// Precomputed cos/sin tables for positions `0..<positions`, built once up front.
public final class RoPETable: @unchecked Sendable {
    /// Head dimension `D` (even).
    public let headDim: Int
    /// Values of each head that rotate, `R <= D` (partial rotary: the first R; the rest pass).
    public let rotaryDim: Int
    /// Number of positions the table covers (`P`).
    public let positions: Int
    /// Inverse frequencies, `[R/2]`.
    public let invFreq: [Float]
    /// `[P, R/2]`, times `scale`.
    public let cos: FloatBuffer
    /// `[P, R/2]`, times `scale`.
    public let sin: FloatBuffer

    /// Builds tables for `theta` (HF `rope_theta`) and optional llama3 scaling.
    public convenience init(headDim: Int, positions: Int, theta: Double, scaling: Llama3RoPEScaling? = nil) {
        self.init(headDim: headDim, positions: positions,
                  invFreq: Self.inverseFrequencies(headDim: headDim, theta: theta, scaling: scaling))
    }

    /// Builds tables for explicit inverse frequencies (`[R/2]`), e.g. divided by a GGUF
    /// `rope_freqs` tensor. `rotaryDim` R defaults to the head dim; cos and sin are multiplied by
    /// `scale` (LongRoPE's attention factor; transformers scales both, in float32).
    public init(headDim: Int, positions: Int, invFreq: [Float], rotaryDim: Int? = nil, scale: Float = 1) {
        let rotary = rotaryDim ?? headDim
        precondition(headDim > 0 && headDim % 2 == 0, "RoPE: head dim must be even and positive")
        precondition(rotary > 0 && rotary % 2 == 0 && rotary <= headDim, "RoPE: rotary dim must be even, positive and at most the head dim")
        precondition(positions > 0, "RoPE: positions must be positive")
        precondition(invFreq.count == rotary / 2, "RoPE: need rotaryDim / 2 inverse frequencies")
        let half = rotary / 2
        self.headDim = headDim
        self.rotaryDim = rotary
        self.positions = positions
        self.invFreq = invFreq
        cos = FloatBuffer(count: positions * half)
        sin = FloatBuffer(count: positions * half)
        for p in 0..<positions {
            for i in 0..<half {
                let angle = Float(p) * invFreq[i]  // fp32 product, as in HF
                cos[p * half + i] = Float(Foundation.cos(Double(angle))) * scale
                sin[p * half + i] = Float(Foundation.sin(Double(angle))) * scale
            }
        }
    }

    /// `1 / theta^(2i/R)` for `i < R/2` (R = `headDim`, or the rotary dim of a partial rotary
    /// embedding), then llama3 scaling when given.
    public static func inverseFrequencies(headDim: Int, theta: Double, scaling: Llama3RoPEScaling?) -> [Float] {
        // HF computes inv_freq = 1 / base^(2i/D) in float32; doing the same keeps the angles
        // bit-close to the reference.
        let inv = (0..<(headDim / 2)).map { i -> Float in
            1 / Float(Foundation.pow(Double(Float(theta)), Double(Float(2 * i) / Float(headDim))))
        }
        return scaling.map { llama3(inv, $0) } ?? inv
    }

    /// LongRoPE's `1 / (factor_i · theta^(2i/R))` (float32, as transformers), `factors` `[R/2]`.
    public static func longRoPEFrequencies(rotaryDim: Int, theta: Double, factors: [Double]) -> [Float] {
        factors.indices.map { i in
            let power = Float(Foundation.pow(Double(Float(theta)), Double(Float(2 * i) / Float(rotaryDim))))
            return 1 / (Float(factors[i]) * power)
        }
    }

    /// HF `_compute_llama3_parameters`: long wavelengths divided by `factor`, short ones kept,
    /// a smooth blend in between.
    static func llama3(_ inv: [Float], _ s: Llama3RoPEScaling) -> [Float] {
        let old = Double(s.originalMaxPositionEmbeddings)
        let lowWavelen = old / s.lowFreqFactor
        let highWavelen = old / s.highFreqFactor
        return inv.map { f in
            let freq = Double(f)
            let wavelen = 2 * Double.pi / freq
            if wavelen < highWavelen { return f }
            if wavelen > lowWavelen { return Float(freq / s.factor) }
            let smooth = (old / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor)
            return Float((1 - smooth) * freq / s.factor + smooth * freq)
        }
    }
}

/// Rotary embedding applied in place, forward and backward (the rotation's transpose, i.e. the
/// rotation by the negative angle).
public enum RoPE {
    /// Rotates every head of every token: `x1' = x1·cos - x2·sin`, `x2' = x2·cos + x1·sin` with
    /// `x1 = x[i]`, `x2 = x[i + D/2]`.
    ///
    /// - Parameters:
    ///   - x: `[N, rowStride]`, the `H` heads of a token at `x + n·rowStride + h·D`; rotated in place.
    ///   - positions: `[N]`, each in `0..<table.positions`.
    @inlinable
    public static func forward(
        x: UnsafeMutablePointer<Float>,     // [N, rowStride] ⊇ [N, H, D]
        positions: UnsafePointer<Int>,      // [N]
        tokens: Int, heads: Int, rowStride: Int,
        table: RoPETable
    ) {
        // x1' = x1·c − x2·s, x2' = x2·c + x1·s per pair
        rotate(x, positions: positions, tokens: tokens, heads: heads, rowStride: rowStride, table: table, inverse: false)
    }

    /// Backward of `forward`, in place: `dx = Rᵀ · dy` per pair, with the same table and positions.
    ///
    /// From `x1' = x1·cos - x2·sin`, `x2' = x2·cos + x1·sin`:
    /// `dx1 = dy1·cos + dy2·sin`, `dx2 = dy2·cos - dy1·sin`.
    /// Nothing is saved by the forward; the rotation is linear, so only the table is needed.
    ///
    /// - Parameters:
    ///   - dx: `[N, rowStride]`; holds `dout` on entry and is **overwritten** with `dinp`
    ///     (activation gradient).
    ///   - positions: `[N]`, the forward's positions.
    @inlinable
    public static func backward(
        dx: UnsafeMutablePointer<Float>,    // [N, rowStride] ⊇ [N, H, D]
        positions: UnsafePointer<Int>,      // [N]
        tokens: Int, heads: Int, rowStride: Int,
        table: RoPETable
    ) {
        // dx1 = dy1·c + dy2·s, dx2 = dy2·c − dy1·s (the transposed rotation)
        rotate(dx, positions: positions, tokens: tokens, heads: heads, rowStride: rowStride, table: table, inverse: true)
    }

    /// Every token's heads rotated by its position's angles (`inverse`: the transpose), in
    /// CKernels (vectorised).
    @usableFromInline
    static func rotate(_ x: UnsafeMutablePointer<Float>, positions: UnsafePointer<Int>, tokens: Int, heads: Int,
                       rowStride: Int, table: RoPETable, inverse: Bool) {
        StepProfile.measure(.elementwise) {
            let d = table.headDim, rotary = table.rotaryDim
            let half = rotary / 2
            precondition(rowStride >= heads * d, "RoPE: row stride smaller than heads·headDim")
            let cosTable = UnsafePointer(table.cos.pointer)
            let sinTable = UnsafePointer(table.sin.pointer)
            for n in 0..<tokens {
                let p = positions[n]
                precondition(p >= 0 && p < table.positions, "RoPE: position \(p) outside the table")
                if rotary == d {
                    tk_rope_row(x + n * rowStride, heads, d, cosTable + p * half, sinTable + p * half, inverse ? 1 : 0)
                } else {
                    // Partial rotary: the first R values of each head rotate, the rest pass.
                    for h in 0..<heads {
                        tk_rope_row(x + n * rowStride + h * d, 1, rotary, cosTable + p * half, sinTable + p * half, inverse ? 1 : 0)
                    }
                }
            }
        }
    }
}
