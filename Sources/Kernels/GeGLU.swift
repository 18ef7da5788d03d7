// GeGLU (Gemma's MLP nonlinearity): out = gelu_tanh(gate) · up, with PyTorch's tanh
// approximation gelu_tanh(g) = ½·g·(1 + tanh(β·(g + κ·g³))), β = √(2/π), κ = 0.044715
// (`gelu_pytorch_tanh`). The kernels (`tk_geglu`, vectorised on every path and bit-identical
// across them) use ½(1 + tanh(y)) = σ(2y), so the GELU is g·σ(2β(g + κg³)) and its derivative
// σ + g·σ(1 − σ)·2β(1 + 3κg²): SwiGLU's shape with another argument to the sigmoid.
// Legend: N = rows (tokens), F = intermediate (FFN) size.

import CKernels

/// The gated tanh-GELU of the Gemma MLP, forward and backward.
public enum GeGLU {
    /// `out[i] = gelu_tanh(gate[i]) · up[i]` over `count = N·F` elements; `out` may alias
    /// `gate` or `up`.
    public static func forward(out: UnsafeMutablePointer<Float>, gate: UnsafePointer<Float>, up: UnsafePointer<Float>,
                               count: Int) {
        precondition(count >= 0, "GeGLU: negative count")
        StepProfile.measure(.elementwise) { tk_geglu(out, gate, up, count) }
    }

    /// Backward of `forward`: `dgate = dout · up · gelu_tanh'(gate)`, `dup = dout · gelu_tanh(gate)`.
    /// `dgate` may alias `gate` or `dout`, `dup` may alias `up` or `dout` (not `dgate`).
    public static func backward(dgate: UnsafeMutablePointer<Float>, dup: UnsafeMutablePointer<Float>,
                                dout: UnsafePointer<Float>, gate: UnsafePointer<Float>, up: UnsafePointer<Float>,
                                count: Int) {
        precondition(count >= 0, "GeGLU: negative count")
        precondition(UnsafePointer(dgate) != UnsafePointer(dup) || count == 0, "GeGLU: dgate and dup must differ")
        // All reads of element i come before its writes, so the documented aliasing is safe.
        StepProfile.measure(.elementwise) { tk_geglu_backward(dgate, dup, dout, gate, up, count) }
    }
}
