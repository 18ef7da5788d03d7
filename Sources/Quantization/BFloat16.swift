// bfloat16 (the top 16 bits of a Float) <-> Float, as ggml's ggml_compute_fp32_to_bf16 does it.

/// Conversions between bfloat16 bit patterns and `Float`.
public enum BFloat16 {
    /// The `Float` value of a bfloat16 bit pattern (exact).
    @inlinable @inline(__always)
    public static func toFloat(_ bits: UInt16) -> Float {
        Float(bitPattern: UInt32(bits) << 16)
    }

    /// The bfloat16 nearest to `value`, ties to even. NaN becomes a quiet NaN; overflow rounds
    /// to infinity, as in ggml.
    @inlinable
    public static func fromFloat(_ value: Float) -> UInt16 {
        let x = value.bitPattern
        if x & 0x7FFF_FFFF > 0x7F80_0000 {
            return UInt16(truncatingIfNeeded: (x >> 16) | 64)  // force quiet
        }
        let rounded = x &+ (0x7FFF &+ ((x >> 16) & 1))
        return UInt16(truncatingIfNeeded: rounded >> 16)
    }
}
