// Global-norm gradient clipping with torch.nn.utils.clip_grad_norm_ semantics, split so that the
// sum of squares can be allReduced across ranks between the two halves:
//   local = localSquaredNorm(grads)          (each rank, over the gradients it owns)
//   total = √(allReduce(local))               (caller; one rank: √local)
//   coef  = clipCoefficient(total, maxNorm)   (max_norm / (total + 1e-6), clamped to 1, fp32)
//   if coef < 1 { scale(grads, by: coef) }
// Replicated gradients must be counted once across the group, not once per rank.

import Kernels

/// Gradient-norm clipping helpers.
public enum GradientClipping {
    /// Σ g² over every element of `gradients`, accumulated in Double.
    public static func localSquaredNorm(_ gradients: [FloatBuffer]) -> Double {
        var total = 0.0
        for g in gradients {
            var sum = 0.0
            for i in 0..<g.count {
                let x = Double(g[i])
                sum += x * x
            }
            total += sum
        }
        return total
    }

    /// torch's factor `max_norm / (total_norm + 1e-6)` in fp32, clamped to at most 1.
    public static func clipCoefficient(totalNorm: Double, maxNorm: Double) -> Float {
        let coefficient = Float(maxNorm) / (Float(totalNorm) + Float(1e-6))
        return min(coefficient, 1)
    }

    /// Multiplies every gradient element by `factor`.
    public static func scale(_ gradients: [FloatBuffer], by factor: Float) {
        for g in gradients {
            for i in 0..<g.count { g[i] *= factor }
        }
    }

    /// Single-rank clipping: returns the total norm before clipping, as torch does.
    @discardableResult
    public static func clip(_ gradients: [FloatBuffer], maxNorm: Double) -> Double {
        let total = localSquaredNorm(gradients).squareRoot()
        let coefficient = clipCoefficient(totalNorm: total, maxNorm: maxNorm)
        if coefficient < 1 { scale(gradients, by: coefficient) }
        return total
    }
}
