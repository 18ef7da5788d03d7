// y = x · Wᵀ over a frozen matrix, tile by tile: `tileRows` rows of W are dequantized into
// one reusable scratch (cache-sized) and multiplied with sgemm, so the weight never exists
// dequantized as a whole. Owned fp32 weights are read in place, in the same tiles, so every
// storage runs the same sgemm calls: an NF4 matrix and the fp32 matrix of its dequantized
// values give bit-identical results (as bitsandbytes' fp32 path does).
// Legend: N = tokens, O = W rows (out), I = W columns (in), R = rows per tile.

import CKernels
import Kernels

extension FrozenMatrix {
    /// `out[N, O] = inp[N, I] · Wᵀ` (plus `beta · out`), or only the output columns `outputs`.
    ///
    /// - Parameters:
    ///   - out: `[N, ldOut]`, the `O` outputs at column 0 (output `j` at column `j`).
    ///   - outputs: rows of W to multiply (default all); other columns of `out` are untouched.
    ///   - inp: `[N, I]`.
    ///   - scratch: at least `scratchCount` floats.
    ///   - beta: 1 accumulates into `out` (residual adds), 0 overwrites.
    public func linearForward(
        out: UnsafeMutablePointer<Float>,       // [N, ldOut]
        ldOut: Int? = nil,
        inp: UnsafePointer<Float>,              // [N, I]
        tokens: Int,
        scratch: UnsafeMutablePointer<Float>,   // [R, I]
        beta: Float = 0,
        outputs: Range<Int>? = nil
    ) throws {
        let ldc = ldOut ?? rows, span = outputs ?? 0..<rows
        precondition(ldc >= rows, "linearForward: output stride smaller than \(rows)")
        precondition(span.lowerBound >= 0 && span.upperBound <= rows, "linearForward: outputs \(span) outside 0..<\(rows)")
        if tokens == 0 { return }
        let tile = tileRows
        var r0 = span.lowerBound
        while r0 < span.upperBound {
            let count = min(tile, span.upperBound - r0)
            // out[:, r0 ..< r0+count] = x [N, I] · W_tileᵀ [I, count]
            if let panel = amxPanel(r0, count: count, transposed: true, scratch: scratch) {
                amxGemm(m: tokens, n: count, k: columns, a: inp, lda: columns, packedB: panel,
                        c: out + r0, ldc: ldc, beta: beta)
                r0 += count
                continue
            }
            let tileW = try tileWeights(r0, count: count, scratch: scratch)   // [count, I]
            if ComputeContext.current.precision == .bf16 {
                bf16gemm(m: tokens, n: count, k: columns, a: inp, lda: columns, w: tileW, ldw: columns,
                         transposedW: true, c: out + r0, ldc: ldc, beta: beta)
            } else {
                sgemm(.none, .transposed, m: tokens, n: count, k: columns,
                      a: inp, lda: columns, b: tileW, ldb: columns,
                      beta: beta, c: out + r0, ldc: ldc)
            }
            r0 += count
        }
    }
}

extension FrozenMatrix {
    /// Input gradient of `linearForward`: `dinp[N, I] = dout[N, O] · W` (plus `beta · dinp`),
    /// or through the output columns `outputs` only. Frozen weights get no gradient of their
    /// own; only this flows through them (docs/architecture.md §4.5).
    ///
    /// - Parameters:
    ///   - dinp: `[N, I]`; overwritten (`beta = 0`, the activation-gradient rule) or accumulated.
    ///   - dout: `[N, ldDout]`, the `O` output gradients at column 0.
    ///   - outputs: rows of W to multiply (default all).
    ///   - scratch: at least `scratchCount` floats.
    public func linearBackwardInput(
        dinp: UnsafeMutablePointer<Float>,      // [N, I]
        dout: UnsafePointer<Float>,             // [N, ldDout]
        ldDout: Int? = nil,
        tokens: Int,
        scratch: UnsafeMutablePointer<Float>,   // [R, I]
        beta: Float = 0,
        outputs: Range<Int>? = nil
    ) throws {
        let ld = ldDout ?? rows, span = outputs ?? 0..<rows
        precondition(ld >= rows, "linearBackwardInput: dout stride smaller than \(rows)")
        precondition(span.lowerBound >= 0 && span.upperBound <= rows, "linearBackwardInput: outputs \(span) outside 0..<\(rows)")
        if tokens == 0 { return }
        if span.isEmpty {
            if beta == 0 { dinp.update(repeating: 0, count: tokens * columns) }
            return
        }
        let tile = tileRows
        var r0 = span.lowerBound
        while r0 < span.upperBound {
            let count = min(tile, span.upperBound - r0)
            // dinp [N, I] (+)= dout[:, r0 ..< r0+count] [N, count] · W_tile [count, I]
            if let panel = amxPanel(r0, count: count, transposed: false, scratch: scratch) {
                amxGemm(m: tokens, n: columns, k: count, a: dout + r0, lda: ld, packedB: panel,
                        c: dinp, ldc: columns, beta: r0 == span.lowerBound ? beta : 1)
                r0 += count
                continue
            }
            let tileW = try tileWeights(r0, count: count, scratch: scratch)   // [count, I]
            if ComputeContext.current.precision == .bf16 {
                bf16gemm(m: tokens, n: columns, k: count, a: dout + r0, lda: ld, w: tileW, ldw: columns,
                         transposedW: false, c: dinp, ldc: columns, beta: r0 == span.lowerBound ? beta : 1)
            } else {
                sgemm(.none, .none, m: tokens, n: columns, k: count,
                      a: dout + r0, lda: ld, b: tileW, ldb: columns,
                      beta: r0 == span.lowerBound ? beta : 1, c: dinp, ldc: columns)
            }
            r0 += count
        }
    }
}

extension FrozenMatrix {
    /// Rows `r0 ..< r0 + count` of an NF4 matrix packed as the B operand of an AMX product
    /// (`transposed`: y = x·Wᵀ, else dx = dy·W), decoded straight from the codes; nil unless the
    /// products are bf16 on AMX and the storage is NF4 (other storages pack their fp32 tile).
    /// The panel lives in the calling thread's AMX buffer; `scratch` holds the block scales.
    @inline(__always)
    func amxPanel(_ r0: Int, count: Int, transposed: Bool, scratch: UnsafeMutablePointer<Float>) -> UnsafePointer<UInt32>? {
        guard ComputeContext.current.precision == .bf16, case .nf4(let tensor) = storage, LinearCompute.amxAvailable else { return nil }
        let (n, k) = transposed ? (count, columns) : (columns, count)
        guard let panel = tk_amx_b_scratch(n, k) else { fatalError("FrozenMatrix: out of memory for an AMX weight panel") }
        StepProfile.measure(.dequantize) {
            tensor.packAMXTile(rows: r0..<(r0 + count), transposed: transposed, into: panel, scaleScratch: scratch,
                               threads: BLAS.threadCount)
        }
        return UnsafePointer(panel)
    }

    /// Rows `r0 ..< r0 + count` as `[count, I]` floats: in place for owned fp32, else
    /// dequantized into `scratch`.
    @inline(__always)
    func tileWeights(_ r0: Int, count: Int, scratch: UnsafeMutablePointer<Float>) throws -> UnsafePointer<Float> {
        if let rows = denseRows(r0) { return rows }
        try StepProfile.measure(.dequantize) { try dequantizeRows(r0, count: count, into: scratch) }
        return UnsafePointer(scratch)
    }
}
