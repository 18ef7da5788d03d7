// SwiGLU (Llama MLP nonlinearity): out = silu(gate) · up, silu(g) = g · sigmoid(g).
// Legend: N = rows (tokens), F = intermediate (FFN) size.

import Foundation

/// The gated SiLU of the Llama MLP, forward (backward lands next to it).
public enum SwiGLU {
    /// `out[i] = gate[i] / (1 + exp(-gate[i])) · up[i]` over `count = N·F` elements.
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
        for i in 0..<count {
            let g = gate[i]
            out[i] = g / (1 + Foundation.exp(-g)) * up[i]
        }
    }
}
