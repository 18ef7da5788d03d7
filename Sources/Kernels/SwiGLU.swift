// SwiGLU (Llama MLP nonlinearity): out = silu(gate) · up, silu(g) = g · sigmoid(g).
// Legend: N = rows (tokens), F = intermediate (FFN) size.
// Backward needs the forward's gate and up (so a training forward must not write `out` over them).

import CKernels

/// The gated SiLU of the Llama MLP, forward and backward.
public enum SwiGLU {
    /// `out[i] = gate[i] / (1 + exp(-gate[i])) · up[i]` over `count = N·F` elements (exp:
    /// `tk_exp` of CKernels, vectorised).
    ///
    /// - Parameters:
    ///   - out: `[N, F]`; may alias `gate` or `up`.
    ///   - gate: `[N, F]`.
    ///   - up: `[N, F]`.
    @inlinable
    public static func forward(
        out: UnsafeMutablePointer<Float>,   // [N, F]
        gate: UnsafePointer<Float>,         // [N, F]
        up: UnsafePointer<Float>,           // [N, F]
        count: Int
    ) {
        precondition(count >= 0, "SwiGLU: negative count")
        StepProfile.measure(.elementwise) {
            tk_swiglu(out, gate, up, count)
        }
    }

    /// Backward of `forward`. With `σ = sigmoid(g)`, `silu(g) = g·σ`, `silu'(g) = σ·(1 + g·(1 - σ))`:
    /// `dgate = dout · up · silu'(gate)`, `dup = dout · silu(gate)`.
    ///
    /// - Parameters:
    ///   - dgate: `[N, F]`, **overwritten** (activation gradient); may alias `gate` or `dout`.
    ///   - dup: `[N, F]`, **overwritten** (activation gradient); may alias `up` or `dout`
    ///     (not `dgate`).
    ///   - dout: `[N, F]`.
    ///   - gate: `[N, F]`, the forward's `gate`.
    ///   - up: `[N, F]`, the forward's `up`.
    @inlinable
    public static func backward(
        dgate: UnsafeMutablePointer<Float>, // [N, F]
        dup: UnsafeMutablePointer<Float>,   // [N, F]
        dout: UnsafePointer<Float>,         // [N, F]
        gate: UnsafePointer<Float>,         // [N, F]
        up: UnsafePointer<Float>,           // [N, F]
        count: Int
    ) {
        precondition(count >= 0, "SwiGLU: negative count")
        precondition(UnsafePointer(dgate) != UnsafePointer(dup) || count == 0, "SwiGLU: dgate and dup must differ")
        StepProfile.measure(.elementwise) {
            // All reads of element i come before its writes, so the documented aliasing is safe.
            tk_swiglu_backward(dgate, dup, dout, gate, up, count)
        }
    }
}
