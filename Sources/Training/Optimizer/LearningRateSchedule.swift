// Learning-rate multipliers with linear warmup, exactly transformers' LambdaLR lambdas
// (get_constant_schedule_with_warmup, get_linear_schedule_with_warmup,
// get_cosine_schedule_with_warmup). `step` is the number of optimizer steps already taken:
// the Trainer calls optimizer.step() then scheduler.step(), so update k (0-based) uses
// multiplier(k), and the first update of a warmed-up run uses lr · 0.

import Foundation

/// A learning-rate schedule: warmup, then constant, linear decay to 0, or cosine decay.
public struct LearningRateSchedule: Sendable, Equatable {
    /// The shape after warmup.
    public enum Kind: Sendable, Equatable {
        /// Multiplier 1.
        case constant
        /// Linear from 1 at the end of warmup to 0 at `totalSteps`.
        case linear
        /// `0.5 · (1 + cos(π · 2 · cycles · progress))`; transformers' default `cycles` is 0.5.
        case cosine(cycles: Double)

        /// Cosine with transformers' default half cycle.
        public static let cosine = Kind.cosine(cycles: 0.5)
    }

    public let kind: Kind
    /// Steps of linear warmup from 0.
    public let warmupSteps: Int
    /// Total optimizer steps (`num_training_steps`; unused by `constant`).
    public let totalSteps: Int

    /// Throws when a step count is negative or the warmup is longer than the run.
    public init(kind: Kind, warmupSteps: Int = 0, totalSteps: Int) throws {
        guard warmupSteps >= 0 else { throw OptimizerError.invalidSetting("warmup steps must be ≥ 0, got \(warmupSteps)") }
        guard totalSteps >= 0 else { throw OptimizerError.invalidSetting("total steps must be ≥ 0, got \(totalSteps)") }
        if kind != .constant, warmupSteps > totalSteps {
            throw OptimizerError.invalidSetting("warmup steps (\(warmupSteps)) exceed total steps (\(totalSteps))")
        }
        if case .cosine(let cycles) = kind, !(cycles > 0 && cycles.isFinite) {
            throw OptimizerError.invalidSetting("cosine cycles must be positive, got \(cycles)")
        }
        self.kind = kind
        self.warmupSteps = warmupSteps
        self.totalSteps = totalSteps
    }

    /// The factor applied to the base learning rate after `step` completed updates.
    public func multiplier(atStep step: Int) -> Double {
        if step < warmupSteps {
            return Double(step) / Double(max(1, warmupSteps))
        }
        switch kind {
        case .constant:
            return 1
        case .linear:
            return max(0, Double(totalSteps - step) / Double(max(1, totalSteps - warmupSteps)))
        case .cosine(let cycles):
            let progress = Double(step - warmupSteps) / Double(max(1, totalSteps - warmupSteps))
            return max(0, 0.5 * (1 + cos(Double.pi * cycles * 2 * progress)))
        }
    }

    /// `base · multiplier(atStep: step)`.
    public func learningRate(base: Double, atStep step: Int) -> Double {
        base * multiplier(atStep: step)
    }
}
