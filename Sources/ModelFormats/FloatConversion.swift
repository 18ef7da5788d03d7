// IEEE half (binary16) and bfloat16 conversions for safetensors F16/BF16 data. Narrowing
// rounds to nearest, ties to even, as PyTorch does, so written files match `tensor.half()`.

/// Bit-level conversions between Float and the 16-bit float formats. Internal to ModelFormats.
enum FloatConversion {
    /// Widens IEEE binary16 bits to Float (exact).
    @inline(__always)
    static func halfToFloat(_ bits: UInt16) -> Float {
        let sign = UInt32(bits & 0x8000) << 16
        let exponent = UInt32(bits >> 10) & 0x1F
        let mantissa = UInt32(bits & 0x3FF)
        if exponent == 0 {
            // Zero or subnormal: mantissa × 2^-24, exact in Float.
            let magnitude = Float(mantissa) * 0x1p-24
            return sign == 0 ? magnitude : -magnitude
        }
        if exponent == 0x1F {
            return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
        }
        return Float(bitPattern: sign | ((exponent + 112) << 23) | (mantissa << 13))
    }

    /// Narrows a Float to IEEE binary16 bits, rounding to nearest even; overflow gives ±inf,
    /// NaN stays NaN.
    @inline(__always)
    static func floatToHalf(_ value: Float) -> UInt16 {
        let bits = value.bitPattern
        let sign = UInt16(truncatingIfNeeded: (bits >> 16) & 0x8000)
        let magnitude = bits & 0x7FFF_FFFF
        if magnitude >= 0x7F80_0000 {
            let nan: UInt16 = magnitude > 0x7F80_0000 ? 0x200 | UInt16(truncatingIfNeeded: (magnitude >> 13) & 0x3FF) : 0
            return sign | 0x7C00 | nan
        }
        let exponent = Int(magnitude >> 23) - 127
        if exponent > 15 { return sign | 0x7C00 }
        let mantissa = magnitude & 0x7F_FFFF
        let shift: Int
        var base: UInt32
        if exponent >= -14 {
            shift = 13
            base = (UInt32(exponent + 15) << 10) | (mantissa >> 13)
        } else {
            if exponent < -25 { return sign }
            shift = 13 + (-14 - exponent)
            base = (mantissa | 0x80_0000) >> shift
        }
        // Round to nearest even on the bits shifted out; a carry may roll into the exponent
        // (up to infinity), which is the correct result.
        let full = exponent >= -14 ? mantissa : (mantissa | 0x80_0000)
        let remainder = full & ((1 << shift) - 1)
        let halfway = UInt32(1) << (shift - 1)
        if remainder > halfway || (remainder == halfway && base & 1 == 1) { base += 1 }
        return sign | UInt16(truncatingIfNeeded: base)
    }

    /// Widens bfloat16 bits to Float (exact).
    @inline(__always)
    static func bfloat16ToFloat(_ bits: UInt16) -> Float {
        Float(bitPattern: UInt32(bits) << 16)
    }

    /// Narrows a Float to bfloat16 bits, rounding to nearest even; NaN stays a quiet NaN.
    @inline(__always)
    static func floatToBFloat16(_ value: Float) -> UInt16 {
        let bits = value.bitPattern
        if value.isNaN { return UInt16(truncatingIfNeeded: bits >> 16) | 0x40 }
        let rounded = bits &+ 0x7FFF &+ ((bits >> 16) & 1)
        return UInt16(truncatingIfNeeded: rounded >> 16)
    }
}
