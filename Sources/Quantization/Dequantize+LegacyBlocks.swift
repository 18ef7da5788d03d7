// Fast dequantizers for the 32-element block formats (ggml-quants.c `dequantize_row_q8_0/q4_0/q4_1`).
//
// Block layouts (bytes):
//   Q8_0 [34]: d: half | qs: int8[32]                 y[j] = qs[j] * d
//   Q4_0 [18]: d: half | qs: u8[16]                   y[j] = ((qs[j] & 0xF) - 8) * d, y[j+16] = ((qs[j] >> 4) - 8) * d
//   Q4_1 [20]: d: half | m: half | qs: u8[16]         y[j] = (qs[j] & 0xF) * d + m,   y[j+16] = (qs[j] >> 4) * d + m
//   Q5_0 [22]: d: half | qh: u32 | qs: u8[16]         y[j] = ((qs[j] & 0xF | bit j of qh << 4) - 16) * d, ...
// Low nibbles hold the first 16 elements, high nibbles the last 16.
// Q8_0 and Q4_1 run vectorised in CKernels when the CPU has AVX-512 (the same products and sums).

import CKernels

extension Dequantize {
    @inline(__always)
    static func q8_0(_ src: UnsafeRawPointer, _ blocks: Int, _ y: UnsafeMutablePointer<Float>) {
        if tk_q8_0_blocks(src, blocks, y) != 0 { return }
        for b in 0..<blocks {
            let block = src + b * 34
            let d = half(block, 0)
            let qs = (block + 2).assumingMemoryBound(to: Int8.self)
            let out = y + b * 32
            for j in 0..<32 {
                out[j] = Float(qs[j]) * d
            }
        }
    }

    @inline(__always)
    static func q4_0(_ src: UnsafeRawPointer, _ blocks: Int, _ y: UnsafeMutablePointer<Float>) {
        for b in 0..<blocks {
            let block = src + b * 18
            let d = half(block, 0)
            let qs = (block + 2).assumingMemoryBound(to: UInt8.self)
            let out = y + b * 32
            for j in 0..<16 {
                out[j] = Float(Int32(qs[j] & 0x0F) - 8) * d
                out[j + 16] = Float(Int32(qs[j] >> 4) - 8) * d
            }
        }
    }

    @inline(__always)
    static func q4_1(_ src: UnsafeRawPointer, _ blocks: Int, _ y: UnsafeMutablePointer<Float>) {
        if tk_q4_1_blocks(src, blocks, y) != 0 { return }
        for b in 0..<blocks {
            let block = src + b * 20
            let d = half(block, 0)
            let m = half(block, 2)
            let qs = (block + 4).assumingMemoryBound(to: UInt8.self)
            let out = y + b * 32
            for j in 0..<16 {
                // Separate multiply and add (no FMA), as ggml's scalar code rounds twice.
                out[j] = Float(qs[j] & 0x0F) * d + m
                out[j + 16] = Float(qs[j] >> 4) * d + m
            }
        }
    }

    @inline(__always)
    static func q5_0(_ src: UnsafeRawPointer, _ blocks: Int, _ y: UnsafeMutablePointer<Float>) {
        for b in 0..<blocks {
            let block = src + b * 22
            let d = half(block, 0)
            let qh = UInt32(littleEndian: block.loadUnaligned(fromByteOffset: 2, as: UInt32.self))
            let qs = (block + 6).assumingMemoryBound(to: UInt8.self)
            let out = y + b * 32
            for j in 0..<16 {
                let h0 = UInt8(truncatingIfNeeded: (qh >> j) << 4) & 0x10
                let h1 = UInt8(truncatingIfNeeded: qh >> (j + 12)) & 0x10
                out[j] = Float(Int32((qs[j] & 0x0F) | h0) - 16) * d
                out[j + 16] = Float(Int32((qs[j] >> 4) | h1) - 16) * d
            }
        }
    }
}
