@testable import Quantization

// The plain, obviously-correct dequantizer that tests hold `Dequantize` to. It is written
// straight from the block format descriptions, one element at a time: for element i it finds the
// block, the sub-block and the bits that encode i. It is slow and allocates; never use it in the
// model.

/// Element-by-element reference dequantization over byte arrays.
enum ReferenceDequantize {
    /// Dequantizes elements `[firstElement, firstElement + count)` of a tensor stored as `type`.
    static func run(_ type: GGMLType, bytes: [UInt8], firstElement: Int = 0, count: Int) throws -> [Float] {
        _ = try Dequantize.byteRange(type, firstElement: firstElement, count: count, available: bytes.count)
        return (firstElement..<(firstElement + count)).map { value(type, bytes, element: $0) }
    }

    private static func u16(_ bytes: [UInt8], _ at: Int) -> UInt16 {
        UInt16(bytes[at]) | UInt16(bytes[at + 1]) << 8
    }

    private static func f16(_ bytes: [UInt8], _ at: Int) -> Float {
        HalfFloat.toFloat(u16(bytes, at))
    }

    /// The 6-bit (scale, min) of sub-block j of a Q4_K/Q5_K block, from the 12 packed bytes:
    /// j < 4: low 6 bits of bytes j and j+4; j >= 4: a nibble of byte j+4 plus the top 2 bits of
    /// bytes j-4 (scale) and j (min).
    private static func scaleMin(_ s: ArraySlice<UInt8>, _ j: Int) -> (Float, Float) {
        let q = Array(s)
        if j < 4 { return (Float(q[j] & 63), Float(q[j + 4] & 63)) }
        let scale = Int(q[j + 4] & 15) + Int(q[j - 4] >> 6) * 16
        let minimum = Int(q[j + 4] >> 4) + Int(q[j] >> 6) * 16
        return (Float(scale), Float(minimum))
    }

    private static func value(_ type: GGMLType, _ bytes: [UInt8], element i: Int) -> Float {
        let block = (i / type.blockElements) * type.blockBytes
        let k = i % type.blockElements  // position inside the block
        switch type {
        case .f32:
            let bits = (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[4 * i + $1]) << (8 * $1) }
            return Float(bitPattern: bits)
        case .f16:
            return f16(bytes, 2 * i)
        case .bf16:
            return Float(bitPattern: UInt32(u16(bytes, 2 * i)) << 16)
        case .q8_0:
            return Float(Int8(bitPattern: bytes[block + 2 + k])) * f16(bytes, block)
        case .q4_0, .q4_1:
            let header = type == .q4_0 ? 2 : 4
            let byte = bytes[block + header + k % 16]
            let nibble = k < 16 ? byte & 15 : byte >> 4
            if type == .q4_0 { return Float(Int(nibble) - 8) * f16(bytes, block) }
            return Float(nibble) * f16(bytes, block) + f16(bytes, block + 2)
        case .q5_0:
            // Low 4 bits: nibble of qs[k % 16] (low for k < 16); 5th bit: bit k of the u32 qh.
            let byte = bytes[block + 6 + k % 16]
            let nibble = Int(k < 16 ? byte & 15 : byte >> 4)
            let high = Int((bytes[block + 2 + k / 8] >> (k % 8)) & 1)
            return Float(nibble + 16 * high - 16) * f16(bytes, block)
        case .q4_K, .q5_K:
            // Sub-block s = k / 32 of 32 elements; chunk c = k / 64 uses qs[32c..<32c+32],
            // low nibble for its first sub-block, high nibble for its second.
            let s = k / 32, c = k / 64, l = k % 32
            let (scale, minimum) = scaleMin(bytes[(block + 4)..<(block + 16)], s)
            let qsStart = block + (type == .q4_K ? 16 : 48)
            let byte = bytes[qsStart + 32 * c + l]
            var q = Int(s % 2 == 0 ? byte & 15 : byte >> 4)
            if type == .q5_K, bytes[block + 16 + l] & (1 << s) != 0 { q += 16 }
            return f16(bytes, block) * scale * Float(q) - f16(bytes, block + 2) * minimum
        case .q6_K:
            // Half h = k / 128; inside it, element r = k % 128 is in quarter g = r / 32 at l = r % 32.
            // Low 4 bits: ql[64h + l + 32*(g % 2)], low nibble for g < 2, high for g >= 2.
            // High 2 bits: bits 2g..2g+1 of qh[32h + l]. Scale: int8 scales[8h + g*2 + l/16].
            let h = k / 128, r = k % 128, g = r / 32, l = r % 32
            let qlByte = bytes[block + 64 * h + l + 32 * (g % 2)]
            let low = Int(g < 2 ? qlByte & 15 : qlByte >> 4)
            let high = Int((bytes[block + 128 + 32 * h + l] >> (2 * g)) & 3)
            let scale = Float(Int8(bitPattern: bytes[block + 192 + 8 * h + 2 * g + l / 16]))
            return f16(bytes, block + 208) * scale * Float(low + 16 * high - 32)
        default:
            return .nan  // unreachable: byteRange rejected unsupported types
        }
    }
}
