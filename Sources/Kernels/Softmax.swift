// Numerically stable softmax over the last dimension.
// Legend: N = rows, L = row length.

import Foundation

/// Row-wise softmax, forward (backward lands next to it).
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
        var maxValue = -Float.infinity
        for i in 0..<length where inp[i] > maxValue { maxValue = inp[i] }
        var sum: Float = 0
        for i in 0..<length {
            let e = Foundation.exp(inp[i] - maxValue)
            out[i] = e
            sum += e
        }
        let scale = 1 / sum
        for i in 0..<length { out[i] *= scale }
        return Foundation.log(sum) + maxValue
    }
}
