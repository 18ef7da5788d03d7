// NF4 rows straight into the bf16 tile layout of the AMX products (CKernels' tk_amx_pack_b_nf4):
// the codes are decoded, scaled and rounded to bf16 in one pass, so a frozen linear on AMX never
// writes its weight tile as fp32. The values equal `dequantize(rows:)` rounded to bf16.

import CKernels
import Dispatch

/// Addresses the packing threads share (each writes only its own panels).
private struct SharedPointers: @unchecked Sendable {
    let bytes: UnsafePointer<UInt8>?
    let code: UnsafePointer<Float>?
    let scales: UnsafeMutablePointer<Float>
    let panel: UnsafeMutablePointer<UInt32>
}

extension NF4Tensor {
    /// Packs rows `range` of this `[rows, columns]` tensor as the B operand of an AMX product:
    /// `transposed` (y = x·Wᵀ): B is `[columns, range.count]`; else (dx = dy·W) `[range.count, columns]`.
    ///
    /// - Parameters:
    ///   - into: `tk_amx_b_panel_count(n, k)` values for that B's `[k, n]`.
    ///   - scaleScratch: room for the range's block scales, `range.count · columns / 64 + 2` floats.
    ///   - threads: threads that share the packing, each taking whole panels (column pairs).
    public func packAMXTile(rows range: Range<Int>, transposed: Bool, into panel: UnsafeMutablePointer<UInt32>,
                            scaleScratch: UnsafeMutablePointer<Float>, threads: Int = 1) {
        precondition(range.lowerBound >= 0 && range.upperBound <= rows && !range.isEmpty, "packAMXTile: rows \(range) outside 0..<\(rows)")
        let first = range.lowerBound * columns
        let firstBlock = first / NF4.blockSize
        let lastBlock = (first + range.count * columns - 1) / NF4.blockSize
        switch scales {
        case .plain(let absmax):
            for b in firstBlock...lastBlock { scaleScratch[b - firstBlock] = absmax[b] }
        case .doubleQuantized(let dq):
            for b in firstBlock...lastBlock { scaleScratch[b - firstBlock] = dq.absmax(block: b) }
        }
        let (n, k) = transposed ? (range.count, columns) : (columns, range.count)
        packed.withUnsafeBufferPointer { bytes in
            NF4.codes.withUnsafeBufferPointer { code in
                let p = SharedPointers(bytes: bytes.baseAddress, code: code.baseAddress, scales: scaleScratch, panel: panel)
                let pairs = (n + 31) / 32, parts = max(1, min(threads, pairs))
                let work: @Sendable (Int) -> Void = { t in
                    tk_amx_pack_b_nf4_pairs(n, k, p.bytes, first, p.scales, p.code, transposed ? 1 : 0, p.panel,
                                            t * pairs / parts, (t + 1) * pairs / parts)
                }
                if parts == 1 { work(0) } else { DispatchQueue.concurrentPerform(iterations: parts, execute: work) }
            }
        }
    }
}
