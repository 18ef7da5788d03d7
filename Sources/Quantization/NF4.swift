// NF4 (4-bit NormalFloat) exactly as bitsandbytes 0.50 computes it on the CPU
// (`quantize_4bit(..., quant_type="nf4", blocksize=64)` / `dequantize_4bit`); see
// Tests/Fixtures/reference/smollm2/nf4/README.md for the rules and byte-exact cases.
//
// Legend: n = element count of the row-major flattened weight; blocks of 64 consecutive
// elements (the last may be short, and a block may span two rows); packed[k] holds elements
// 2k (high nibble) and 2k+1 (low nibble).

import CKernels

/// The NF4 code table and the block-level quantize/dequantize kernels.
public enum NF4 {
    /// Elements per quantization block.
    public static let blockSize = 64

    /// The 16 NF4 values, bit-exact with bitsandbytes' table (`quant_map`).
    public static let codes: [Float] = [
        0xBF80_0000, 0xBF32_39B1, 0xBF06_6B30, 0xBECA_32A0, 0xBE91_A24D, 0xBE3D_353F, 0xBDBA_7871, 0x0000_0000,
        0x3DA2_FAFF, 0x3E24_CAE3, 0x3E7C_04DD, 0x3EAD_033A, 0x3EE1_A4B8, 0x3F10_07AB, 0x3F39_13B3, 0x3F80_0000,
    ].map { Float(bitPattern: $0) }

    /// The 15 decision thresholds `fp32((c[i] + c[i+1]) / 2)`.
    public static let midpoints: [Float] = (0..<15).map { (codes[$0] + codes[$0 + 1]) / 2 }

    /// Index of the code for a scaled value `s` in [-1, 1]: the number of midpoints strictly
    /// below `s` (`torch.bucketize(s, m, right=False)`), so a value on a midpoint takes the lower index.
    @inlinable
    public static func index(ofScaled s: Float) -> UInt8 {
        midpoints.withUnsafeBufferPointer { index(ofScaled: s, midpoints: $0) }
    }

    /// `index(ofScaled:)` over a borrowed threshold table, for the quantize loop.
    @usableFromInline @inline(__always)
    static func index(ofScaled s: Float, midpoints m: UnsafeBufferPointer<Float>) -> UInt8 {
        // Branch-free count; 15 compares are cheaper than a mispredicted binary search.
        var q: UInt8 = 0
        for i in 0..<15 { q &+= m[i] < s ? 1 : 0 }
        return q
    }

    /// Quantizes `n` values into `packed` (`(n + 1) / 2` bytes) and `absmax` (`(n + 63) / 64`
    /// floats). Whole 64-blocks run in `tk_nf4_quantize` (the same fp32 operations on every kernel
    /// path, so the bytes are identical), a short last block here.
    /// - Returns: the index of the first NaN or infinity (the output is then incomplete), or nil.
    static func quantize(_ x: UnsafePointer<Float>, count n: Int, packed: UnsafeMutablePointer<UInt8>,
                         absmax: UnsafeMutablePointer<Float>) -> Int? {
        let whole = n / blockSize
        let bad = midpoints.withUnsafeBufferPointer { m in tk_nf4_quantize(x, whole, m.baseAddress, packed, absmax) }
        if bad >= 0 {
            let start = bad * blockSize
            return (start..<(start + blockSize)).first { !x[$0].isFinite }
        }
        guard whole * blockSize < n else { return nil }
        if let index = ((whole * blockSize)..<n).first(where: { !x[$0].isFinite }) { return index }
        midpoints.withUnsafeBufferPointer { m in
            quantizeBlockScalar(x, count: n, block: whole, packed: packed, absmax: absmax, midpoints: m)
        }
        return nil
    }

    @inline(__always)
    private static func quantizeBlockScalar(_ x: UnsafePointer<Float>, count n: Int, block b: Int, packed: UnsafeMutablePointer<UInt8>,
                                      absmax: UnsafeMutablePointer<Float>, midpoints m: UnsafeBufferPointer<Float>) {
        let start = b * blockSize
        let length = Swift.min(blockSize, n - start)
        var amax: Float = 0
        for j in 0..<length { amax = Swift.max(amax, abs(x[start + j])) }
        absmax[b] = amax
        let divisor = Swift.max(amax, 1e-38)
        // bnb multiplies by a rounded reciprocal for full blocks but truly divides in the
        // short last block: two different roundings, kept to match its bytes.
        let reciprocal = 1 / divisor
        for j in 0..<length {
            let e = start + j
            let raw = length == blockSize ? x[e] * reciprocal : x[e] / divisor
            let q = index(ofScaled: Swift.min(Swift.max(raw, -1), 1), midpoints: m)
            if e % 2 == 0 {
                // An odd n is padded with one s = 0 (code 7) in the last low nibble.
                packed[e / 2] = (q << 4) | (e + 1 == n ? 7 : 0)
            } else {
                packed[e / 2] |= q
            }
        }
    }

    /// Dequantizes elements `[first, first + count)` given a per-block scale function;
    /// `out[j] = codes[q_j] * scale(j / 64)`, one float multiply as in bitsandbytes.
    @inline(__always)
    static func dequantize(packed: UnsafePointer<UInt8>, first: Int, count: Int, into out: UnsafeMutablePointer<Float>,
                           scale: (Int) -> Float) {
        codes.withUnsafeBufferPointer { table in
            guard let code = table.baseAddress else { return }
            var e = first
            let end = first + count
            while e < end {
                let block = e / blockSize
                let blockEnd = Swift.min((block + 1) * blockSize, end)
                let s = scale(block)
                // A whole block: the vectorised kernel (CKernels), the same products.
                if e % blockSize == 0 && blockEnd - e == blockSize {
                    tk_nf4_block(packed + e / 2, s, code, out + (e - first))
                    e = blockEnd
                    continue
                }
                // Whole bytes (both nibbles inside the range) go two at a time.
                if e % 2 == 1 {
                    out[e - first] = code[Int(packed[e / 2] & 0x0F)] * s
                    e += 1
                }
                while e + 1 < blockEnd {
                    let byte = packed[e / 2]
                    out[e - first] = code[Int(byte >> 4)] * s
                    out[e + 1 - first] = code[Int(byte & 0x0F)] * s
                    e += 2
                }
                if e < blockEnd {
                    out[e - first] = code[Int(packed[e / 2] >> 4)] * s
                    e += 1
                }
            }
        }
    }
}
