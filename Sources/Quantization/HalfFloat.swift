// IEEE 754 binary16 ("half", ggml_half) <-> Float, by bit manipulation so that it works on every
// platform (Swift's Float16 is unavailable on macOS x86-64) and is exact in both directions.

/// Conversions between IEEE half-precision bit patterns and `Float`.
public enum HalfFloat {
    /// The `Float` value of a half-precision bit pattern. Exact: every half is a float.
    @inlinable @inline(__always)
    public static func toFloat(_ bits: UInt16) -> Float {
        // Shift exponent and mantissa into float position and rebias (Giesen's method).
        let shiftedExponent: UInt32 = 0x7C00 << 13
        var out = (UInt32(bits) & 0x7FFF) << 13
        let exponent = out & shiftedExponent
        out &+= (127 - 15) << 23
        if exponent == shiftedExponent {
            out &+= (128 - 16) << 23  // inf / NaN: exponent to 255, payload kept
        } else if exponent == 0 {
            // Subnormal half: renormalize by letting the FPU subtract the implicit bit.
            out &+= 1 << 23
            out = (Float(bitPattern: out) - Float(bitPattern: 113 << 23)).bitPattern
        }
        return Float(bitPattern: out | ((UInt32(bits) & 0x8000) << 16))
    }

    /// The half-precision bit pattern nearest to `value`, ties to even. Values that round past
    /// 65504 become infinity; NaN stays NaN (quiet, payload truncated).
    @inlinable
    public static func fromFloat(_ value: Float) -> UInt16 {
        let x = value.bitPattern
        let sign = UInt16(truncatingIfNeeded: (x >> 16) & 0x8000)
        let magnitude = x & 0x7FFF_FFFF
        if magnitude >= 0x7F80_0000 {  // inf or NaN
            let payload = magnitude > 0x7F80_0000 ? (0x0200 | UInt16(truncatingIfNeeded: (magnitude >> 13) & 0x3FF)) : 0
            return sign | 0x7C00 | payload
        }
        if magnitude >= 0x477F_F000 {  // >= 65520: ties to even round up past 65504
            return sign | 0x7C00
        }
        if magnitude < 0x3880_0000 {  // below 2^-14: half subnormal (units of 2^-24)
            // Scaling by 2^24 is exact, so one integer rounding gives the correctly rounded half.
            let units = (Float(bitPattern: magnitude) * 16_777_216).rounded(.toNearestOrEven)
            return sign | UInt16(units)
        }
        let odd = (magnitude >> 13) & 1
        let rounded = magnitude &+ 0xFFF &+ odd &- ((127 - 15) << 23)
        return sign | UInt16(truncatingIfNeeded: rounded >> 13)
    }
}
