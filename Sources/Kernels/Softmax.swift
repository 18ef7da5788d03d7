// Numerically stable softmax over the last dimension.
// Legend: N = rows, L = row length.

import CKernels

/// Row-wise softmax, forward and backward.
public enum Softmax {
    /// `out[n, :] = exp(inp[n, :] - max) / sum`, rows of length `L` laid out with stride `stride`.
    ///
    /// - Parameters:
    ///   - out: `[N, stride]` (only the first `L` columns written); may alias `inp`.
    ///   - inp: `[N, stride]`.
    @inlinable
    public static func forward(
        out: UnsafeMutablePointer<Float>,   // [N, stride]
        inp: UnsafePointer<Float>,          // [N, stride]
        rows: Int, length: Int, stride: Int
    ) {
        precondition(rows >= 0 && length > 0 && stride >= length, "Softmax: bad shape")
        for n in 0..<rows {
            row(out: out + n * stride, inp: inp + n * stride, length: length)
        }
    }

    /// Softmax of one row of `length` values; returns log(sum(exp(x - max))) + max (logsumexp).
    @inlinable @discardableResult
    public static func row(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, length: Int) -> Float {
        if UnsafePointer(out) != inp { out.update(from: inp, count: length) }
        return tk_softmax_row(out, length)
    }

    /// Backward of `forward`: `dinp = y ⊙ (dout - Σ_j dout_j·y_j)` per row, from the forward's
    /// output `y` (nothing else is saved).
    ///
    /// - Parameters:
    ///   - dinp: `[N, stride]` (first `L` columns **overwritten**, activation gradient); may alias
    ///     `dout`.
    ///   - dout: `[N, stride]`.
    ///   - out: `[N, stride]`, the forward's output.
    @inlinable
    public static func backward(
        dinp: UnsafeMutablePointer<Float>,  // [N, stride]
        dout: UnsafePointer<Float>,         // [N, stride]
        out: UnsafePointer<Float>,          // [N, stride]
        rows: Int, length: Int, stride: Int
    ) {
        precondition(rows >= 0 && length > 0 && stride >= length, "Softmax: bad shape")
        for n in 0..<rows {
            rowBackward(dinp: dinp + n * stride, dout: dout + n * stride, out: out + n * stride, length: length)
        }
    }

    /// Backward of `row` over one row of `length` values; `dinp` may alias `dout`.
    @inlinable
    public static func rowBackward(dinp: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
                                   out: UnsafePointer<Float>, length: Int) {
        // ∂y_i/∂x_j = y_i·(δ_ij - y_j)  ⇒  dx_j = y_j·(dy_j - Σ_i dy_i·y_i)
        tk_softmax_row_backward(dinp, dout, out, length)
    }
}
