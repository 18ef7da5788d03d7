// AdamW with torch.optim.AdamW's arithmetic (single-tensor path, capturable=False), element by
// element in fp32 with the scalar factors computed in fp64 and rounded to fp32 as PyTorch does
// when it multiplies an fp32 tensor by a Python float:
//   p ← p · (1 − lr·wd)                                 (decoupled decay, skipped when wd = 0)
//   m ← lerp(m, g, 1 − β1) = m + (1 − β1)(g − m)        (fused multiply-add, as ATen's lerp_vec)
//   v ← v·β2 + ((1 − β2)·g)·g                           (mul_ then addcmul_)
//   denom = √v / √(1 − β2^t) + eps
//   p ← p + ((−lr / (1 − β1^t))·m) / denom               (addcdiv_)
// with t counted from 1. The step allocates nothing.

import Foundation
import Kernels

/// One trainable tensor and its gradient (same element count).
public struct OptimizedParameter: Sendable {
    /// Name used in error messages and checkpoints (PEFT key for LoRA factors).
    public let name: String
    /// The values updated in place.
    public let value: FloatBuffer
    /// The accumulated gradient; read, never modified, by the optimizer.
    public let gradient: FloatBuffer

    public init(name: String, value: FloatBuffer, gradient: FloatBuffer) {
        self.name = name
        self.value = value
        self.gradient = gradient
    }
}

/// AdamW hyper-parameters; the defaults are torch.optim.AdamW's.
public struct AdamWHyperparameters: Sendable, Equatable {
    public var learningRate: Double
    public var beta1: Double
    public var beta2: Double
    public var epsilon: Double
    /// Decoupled weight decay (torch's default is 0.01; Hugging Face Trainer passes 0.0).
    public var weightDecay: Double

    public init(learningRate: Double = 1e-3, beta1: Double = 0.9, beta2: Double = 0.999,
                epsilon: Double = 1e-8, weightDecay: Double = 0.01) {
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
    }

    /// torch's range checks, with the field named.
    public func validate() throws {
        guard learningRate >= 0, learningRate.isFinite else { throw OptimizerError.invalidSetting("learning rate must be ≥ 0, got \(learningRate)") }
        guard beta1 >= 0, beta1 < 1 else { throw OptimizerError.invalidSetting("beta1 must be in [0, 1), got \(beta1)") }
        guard beta2 >= 0, beta2 < 1 else { throw OptimizerError.invalidSetting("beta2 must be in [0, 1), got \(beta2)") }
        guard epsilon >= 0, epsilon.isFinite else { throw OptimizerError.invalidSetting("epsilon must be ≥ 0, got \(epsilon)") }
        guard weightDecay >= 0, weightDecay.isFinite else { throw OptimizerError.invalidSetting("weight decay must be ≥ 0, got \(weightDecay)") }
    }
}

/// AdamW over a fixed list of parameters, with its moment buffers allocated up front.
public final class AdamW {
    /// The parameters, in the order given.
    public let parameters: [OptimizedParameter]
    /// Hyper-parameters; set `hyperparameters.learningRate` from the schedule before each step.
    public var hyperparameters: AdamWHyperparameters
    /// First moments `m`, one per parameter (same count).
    public let expAvg: [FloatBuffer]
    /// Second moments `v`, one per parameter.
    public let expAvgSq: [FloatBuffer]
    /// Steps taken so far (torch's `state["step"]`); the next step uses t = stepCount + 1.
    public internal(set) var stepCount: Int = 0

    /// An optimizer with zero moments. Throws when a hyper-parameter is out of range or a
    /// gradient's size differs from its parameter's.
    public init(parameters: [OptimizedParameter], hyperparameters: AdamWHyperparameters) throws {
        try hyperparameters.validate()
        for p in parameters where p.value.count != p.gradient.count {
            throw OptimizerError.stateMismatch("parameter '\(p.name)' has \(p.value.count) values but its gradient has \(p.gradient.count)")
        }
        self.parameters = parameters
        self.hyperparameters = hyperparameters
        expAvg = parameters.map { FloatBuffer(count: $0.value.count) }
        expAvgSq = parameters.map { FloatBuffer(count: $0.value.count) }
    }

    /// One AdamW update of every parameter from its current gradient.
    public func step() {
        stepCount += 1
        let h = hyperparameters
        let t = Double(stepCount)
        let decay = Float(1 - h.learningRate * h.weightDecay)
        let oneMinusBeta1 = Float(1 - h.beta1)
        let beta2 = Float(h.beta2)
        let oneMinusBeta2 = Float(1 - h.beta2)
        // Python's `beta ** step` is libm's pow on a float step.
        let stepSize = Float(-(h.learningRate / (1 - pow(h.beta1, t))))
        let biasCorrection2Sqrt = Float((1 - pow(h.beta2, t)).squareRoot())
        let eps = Float(h.epsilon)
        for index in parameters.indices {
            let p = parameters[index].value.pointer
            let g = parameters[index].gradient.pointer
            let m = expAvg[index].pointer
            let v = expAvgSq[index].pointer
            let count = expAvg[index].count
            if h.weightDecay != 0 {
                for i in 0..<count { p[i] *= decay }
            }
            for i in 0..<count {
                let gi = g[i]
                m[i] = m[i].addingProduct(oneMinusBeta1, gi - m[i])
                v[i] = v[i] * beta2 + oneMinusBeta2 * gi * gi
                let denom = v[i].squareRoot() / biasCorrection2Sqrt + eps
                p[i] = p[i] + stepSize * m[i] / denom
            }
        }
    }

    /// Zeroes every parameter's gradient (before the first micro-batch of a step).
    public func zeroGradients() {
        for p in parameters { p.gradient.zero() }
    }
}
