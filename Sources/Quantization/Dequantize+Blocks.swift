// The GGML block formats (Q8_0, Q4_0, Q4_1, Q5_0, Q4_K, Q5_K, Q6_K) run in CKernels'
// ggml_blocks.c, which holds their layouts, ggml's formulas and the scalar, AVX2 and AVX-512 paths
// (bit-identical, chosen like every other kernel: TESSERA_KERNELS). `Dequantize.run` has already
// checked the byte range, so these pass whole blocks on.

import CKernels

extension Dequantize {
    @inline(__always)
    static func blocks(_ type: GGMLType, _ src: UnsafeRawPointer, _ blocks: Int, _ y: UnsafeMutablePointer<Float>) {
        switch type {
        case .q8_0: tk_q8_0_blocks(src, blocks, y)
        case .q4_0: tk_q4_0_blocks(src, blocks, y)
        case .q4_1: tk_q4_1_blocks(src, blocks, y)
        case .q5_0: tk_q5_0_blocks(src, blocks, y)
        case .q4_K: tk_q4_k_blocks(src, blocks, y)
        case .q5_K: tk_q5_k_blocks(src, blocks, y)
        case .q6_K: tk_q6_k_blocks(src, blocks, y)
        default: preconditionFailure("\(type) is not a block format")
        }
    }
}
