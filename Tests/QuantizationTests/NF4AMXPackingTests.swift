// NF4Tensor+AMX.swift: NF4 rows decoded straight into the AMX bf16 tile layout must equal the
// fp32 dequantization of the same rows packed by tk_amx_pack_b_f32, in both layouts, for row
// ranges that start mid-matrix, plain and double-quantized scales, rows of a multiple of 64 (the
// vector path) and rows whose blocks span rows (the scalar path).

import CKernels
import Testing
@testable import Quantization

@Suite struct NF4AMXPackingTests {
    @Test(arguments: [(40, 128, false), (40, 128, true), (33, 70, true), (50, 192, true), (9, 64, false)])
    func packedTileEqualsDequantizedRows(_ rows: Int, _ columns: Int, _ doubleQuantization: Bool) throws {
        let values = (0..<(rows * columns)).map { i in Float((i &* 2_654_435_761) % 1999) / 1999 - 0.5 }
        let tensor = try NF4Tensor(quantizing: values, shape: [rows, columns], doubleQuantization: doubleQuantization)
        for range in [0..<rows, 3..<(rows - 2), (rows - 1)..<rows] {
            var dense = [Float](repeating: 0, count: range.count * columns)
            try dense.withUnsafeMutableBufferPointer { try tensor.dequantize(rows: range, into: $0) }
            for transposed in [true, false] {
                let (n, k) = transposed ? (range.count, columns) : (columns, range.count)
                var expected = [UInt32](repeating: 0, count: tk_amx_b_panel_count(n, k))
                tk_amx_pack_b_f32(n, k, dense, columns, transposed ? 1 : 0, &expected)
                for threads in [1, 3] {   // threads share the panels
                    var panel = [UInt32](repeating: 0xDEAD_BEEF, count: expected.count)
                    var scales = [Float](repeating: 0, count: range.count * columns / 64 + 2)
                    panel.withUnsafeMutableBufferPointer { p in
                        scales.withUnsafeMutableBufferPointer { s in
                            tensor.packAMXTile(rows: range, transposed: transposed, into: p.baseAddress!,
                                               scaleScratch: s.baseAddress!, threads: threads)
                        }
                    }
                    #expect(panel == expected, "rows \(range) of [\(rows), \(columns)], transposed \(transposed), \(threads) threads")
                }
            }
        }
    }
}
