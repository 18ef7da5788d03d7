// Float -> Q5_0 blocks (ggml's `quantize_row_q5_0_ref`). llama.cpp writes Q5_0 where Q4_K cannot
// be used because a row is not a whole number of 256-element super-blocks (e.g. hidden 576).
//
// Q5_0 [22]: d: half | qh: u32 (bit j = 5th bit of element j) | qs: u8[16] (low nibbles: elements
// 0..<16, high nibbles: 16..<32). d = (the signed value of largest magnitude) / -16,
// q = min(31, trunc(x / d + 16.5)).

extension Quantize {
    static func q5_0(_ x: UnsafePointer<Float>, _ out: UnsafeMutableRawPointer) {
        var amax: Float = 0, maxValue: Float = 0
        for j in 0..<32 where amax < abs(x[j]) {
            amax = abs(x[j])
            maxValue = x[j]
        }
        let d = maxValue / -16
        let id: Float = d != 0 ? 1 / d : 0
        storeHalf(d, out, 0)
        var qh: UInt32 = 0
        for j in 0..<16 {
            let lo = truncatedLevel(x[j] * id + 16.5, 31)
            let hi = truncatedLevel(x[16 + j] * id + 16.5, 31)
            out.storeBytes(of: (lo & 0x0F) | ((hi & 0x0F) << 4), toByteOffset: 6 + j, as: UInt8.self)
            qh |= UInt32(lo >> 4) << j
            qh |= UInt32(hi >> 4) << (j + 16)
        }
        out.storeBytes(of: qh.littleEndian, toByteOffset: 2, as: UInt32.self)
    }
}
