// Element-wise helpers for the backward pass.
// Legend: N = element count.
// A residual `x = x + f(norm(x))` passes `dx` straight through to its input and to the branch;
// the branch's input gradient (an overwritten activation gradient, docs/architecture.md §7) is then
// added to the residual stream's gradient with `accumulate`.

/// Element-wise operations on raw buffers.
public enum Elementwise {
    /// `y[i] += x[i]` for `i < count`. `y` and `x` may be the same buffer (doubling it).
    @inlinable
    public static func accumulate(
        into y: UnsafeMutablePointer<Float>,    // [N]
        _ x: UnsafePointer<Float>,              // [N]
        count: Int
    ) {
        precondition(count >= 0, "Elementwise: negative count")
        StepProfile.measure(.elementwise) {
            for i in 0..<count { y[i] += x[i] }
        }
    }
}
