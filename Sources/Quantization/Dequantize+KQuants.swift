// Fast dequantizers for the 256-element "K" super-block formats (ggml-quants.c
// `dequantize_row_q4_K/q5_K/q6_K`).
//
// Block layouts (bytes):
//   Q4_K [144]: d: half | dmin: half | scales: u8[12] | qs: u8[128]
//   Q5_K [176]: d: half | dmin: half | scales: u8[12] | qh: u8[32] | qs: u8[128]
//   Q6_K [210]: ql: u8[128] | qh: u8[64] | scales: int8[16] | d: half
// Q4_K/Q5_K: 8 sub-blocks of 32, each with a 6-bit scale and 6-bit min packed in `scales`
// (get_scale_min_k4). Each 64-element chunk reads 32 bytes of qs: low nibbles are the first 32
// elements, high nibbles the next 32. Q5_K adds bit (2c) / (2c+1) of qh[l] as the 5th bit.
// Q6_K: two 128-element halves; element l (+32, +64, +96) takes ql's low/high nibbles and two
// bits of qh, minus 32, times d * scales[sub-block of 16].

extension Dequantize {
    /// ggml's get_scale_min_k4: the 6-bit scale and min of sub-block `j` (0..<8).
    @inline(__always)
    static func scaleMinK4(_ j: Int, _ q: UnsafePointer<UInt8>) -> (scale: UInt8, min: UInt8) {
        if j < 4 {
            return (q[j] & 63, q[j + 4] & 63)
        }
        return ((q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4), (q[j + 4] >> 4) | ((q[j] >> 6) << 4))
    }

    @inline(__always)
    static func q4_K(_ src: UnsafeRawPointer, _ blocks: Int, _ y: UnsafeMutablePointer<Float>) {
        for b in 0..<blocks {
            let block = src + b * 144
            let d = half(block, 0)
            let dmin = half(block, 2)
            let scales = (block + 4).assumingMemoryBound(to: UInt8.self)
            let qs = (block + 16).assumingMemoryBound(to: UInt8.self)
            for chunk in 0..<4 {
                let (s1, m1raw) = scaleMinK4(2 * chunk, scales)
                let (s2, m2raw) = scaleMinK4(2 * chunk + 1, scales)
                let d1 = d * Float(s1), m1 = dmin * Float(m1raw)
                let d2 = d * Float(s2), m2 = dmin * Float(m2raw)
                let q = qs + 32 * chunk
                let out = y + b * 256 + 64 * chunk
                for l in 0..<32 {
                    out[l] = d1 * Float(q[l] & 0x0F) - m1
                    out[l + 32] = d2 * Float(q[l] >> 4) - m2
                }
            }
        }
    }

    @inline(__always)
    static func q5_K(_ src: UnsafeRawPointer, _ blocks: Int, _ y: UnsafeMutablePointer<Float>) {
        for b in 0..<blocks {
            let block = src + b * 176
            let d = half(block, 0)
            let dmin = half(block, 2)
            let scales = (block + 4).assumingMemoryBound(to: UInt8.self)
            let qh = (block + 16).assumingMemoryBound(to: UInt8.self)
            let qs = (block + 48).assumingMemoryBound(to: UInt8.self)
            for chunk in 0..<4 {
                let (s1, m1raw) = scaleMinK4(2 * chunk, scales)
                let (s2, m2raw) = scaleMinK4(2 * chunk + 1, scales)
                let d1 = d * Float(s1), m1 = dmin * Float(m1raw)
                let d2 = d * Float(s2), m2 = dmin * Float(m2raw)
                let u1 = UInt8(1) << (2 * chunk), u2 = UInt8(2) << (2 * chunk)
                let q = qs + 32 * chunk
                let out = y + b * 256 + 64 * chunk
                for l in 0..<32 {
                    let high1: UInt8 = qh[l] & u1 != 0 ? 16 : 0
                    let high2: UInt8 = qh[l] & u2 != 0 ? 16 : 0
                    out[l] = d1 * Float((q[l] & 0x0F) + high1) - m1
                    out[l + 32] = d2 * Float((q[l] >> 4) + high2) - m2
                }
            }
        }
    }

    @inline(__always)
    static func q6_K(_ src: UnsafeRawPointer, _ blocks: Int, _ y: UnsafeMutablePointer<Float>) {
        for b in 0..<blocks {
            let block = src + b * 210
            let d = half(block, 208)
            for halfIndex in 0..<2 {
                let ql = (block + 64 * halfIndex).assumingMemoryBound(to: UInt8.self)
                let qh = (block + 128 + 32 * halfIndex).assumingMemoryBound(to: UInt8.self)
                let sc = (block + 192 + 8 * halfIndex).assumingMemoryBound(to: Int8.self)
                let out = y + b * 256 + 128 * halfIndex
                for l in 0..<32 {
                    let s = l / 16
                    let q1 = Int32((ql[l] & 0x0F) | ((qh[l] & 3) << 4)) - 32
                    let q2 = Int32((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4)) - 32
                    let q3 = Int32((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32
                    let q4 = Int32((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32
                    // ggml evaluates d * sc * q left to right: (d * sc) * q.
                    out[l] = d * Float(sc[s]) * Float(q1)
                    out[l + 32] = d * Float(sc[s + 2]) * Float(q2)
                    out[l + 64] = d * Float(sc[s + 4]) * Float(q3)
                    out[l + 96] = d * Float(sc[s + 6]) * Float(q4)
                }
            }
        }
    }
}
