// GeGLU (Gemma's MLP nonlinearity): out = gelu_tanh(gate) · up, with PyTorch's tanh
// approximation gelu_tanh(g) = ½·g·(1 + tanh(β·(g + κ·g³))), β = √(2/π), κ = 0.044715
// (`gelu_pytorch_tanh`), forward and backward in fp32 as PyTorch computes them.
// Legend: N = rows (tokens), F = intermediate (FFN) size.

import Foundation

/// The gated tanh-GELU of the Gemma MLP, forward and backward.
public enum GeGLU {
    static let beta: Float = 0.7978845608028654   // √(2/π)
    static let kappa: Float = 0.044715

    /// `out[i] = gelu_tanh(gate[i]) · up[i]` over `count = N·F` elements; `out` may alias
    /// `gate` or `up`.
    public static func forward(out: UnsafeMutablePointer<Float>, gate: UnsafePointer<Float>, up: UnsafePointer<Float>,
                               count: Int) {
        precondition(count >= 0, "GeGLU: negative count")
        StepProfile.measure(.elementwise) {
            for i in 0..<count {
                let g = gate[i]
                let t = tanhf(beta * (g + kappa * g * g * g))
                out[i] = 0.5 * g * (1 + t) * up[i]
            }
        }
    }

    /// Backward of `forward`: `dgate = dout · up · gelu_tanh'(gate)`, `dup = dout · gelu_tanh(gate)`,
    /// with `gelu_tanh'(g) = ½(1 + t) + ½·g·(1 − t²)·β·(1 + 3κ·g²)`, `t = tanh(β·(g + κ·g³))`.
    /// `dgate` may alias `gate` or `dout`, `dup` may alias `up` or `dout` (not `dgate`).
    public static func backward(dgate: UnsafeMutablePointer<Float>, dup: UnsafeMutablePointer<Float>,
                                dout: UnsafePointer<Float>, gate: UnsafePointer<Float>, up: UnsafePointer<Float>,
                                count: Int) {
        precondition(count >= 0, "GeGLU: negative count")
        precondition(UnsafePointer(dgate) != UnsafePointer(dup) || count == 0, "GeGLU: dgate and dup must differ")
        StepProfile.measure(.elementwise) {
            // All reads of element i come before its writes, so the documented aliasing is safe.
            for i in 0..<count {
                let g = gate[i], u = up[i], d = dout[i]
                let t = tanhf(beta * (g + kappa * g * g * g))
                let gelu = 0.5 * g * (1 + t)
                let derivative = 0.5 * (1 + t) + 0.5 * g * (1 - t * t) * beta * (1 + 3 * kappa * g * g)
                dgate[i] = d * u * derivative
                dup[i] = d * gelu
            }
        }
    }
}
