// The knobs of a training run that the step loop needs (the CLI and config files map onto it).

import Kernels
import LlamaModel

/// Optimisation and batching settings of a run.
public struct TrainerOptions: Sendable, Equatable {
    /// Optimizer steps of the whole run (the schedule's length).
    public var steps: Int
    /// Sequences per optimizer step, over all data-parallel ranks.
    public var globalBatchSize: Int
    /// Sequences per forward/backward on one rank; the rest of a rank's share is accumulated.
    public var microBatchSize: Int
    public var maxSeqLen: Int
    public var packing: Bool
    public var learningRate: Double
    public var schedule: LearningRateSchedule.Kind
    public var warmupSteps: Int
    public var beta1: Double
    public var beta2: Double
    public var epsilon: Double
    public var weightDecay: Double
    /// Global gradient-norm clipping; nil: no clipping.
    public var maxGradNorm: Double?
    public var seed: UInt64
    /// What the backward recomputes instead of keeping (ActivationCheckpointing.swift).
    public var activationCheckpointing: ActivationCheckpointing
    /// Overlap the data-parallel gradient allReduce with the backward (per layer, nonblocking)
    /// instead of one fused allReduce after it.
    public var overlapReduction: Bool
    /// Precision of the frozen linears' products in every step and evaluation.
    public var compute: ComputePrecision

    public init(steps: Int, globalBatchSize: Int, microBatchSize: Int? = nil, maxSeqLen: Int = 512, packing: Bool = true,
                learningRate: Double = 2e-4, schedule: LearningRateSchedule.Kind = .cosine, warmupSteps: Int = 0,
                beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-8, weightDecay: Double = 0,
                maxGradNorm: Double? = 1.0, seed: UInt64 = 0,
                activationCheckpointing: ActivationCheckpointing = .full, overlapReduction: Bool = true,
                compute: ComputePrecision = .fp32) {
        self.steps = steps
        self.globalBatchSize = globalBatchSize
        self.microBatchSize = microBatchSize ?? globalBatchSize
        self.maxSeqLen = maxSeqLen
        self.packing = packing
        self.learningRate = learningRate
        self.schedule = schedule
        self.warmupSteps = warmupSteps
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        self.maxGradNorm = maxGradNorm
        self.seed = seed
        self.activationCheckpointing = activationCheckpointing
        self.overlapReduction = overlapReduction
        self.compute = compute
    }

    /// Checks the values and that the batch splits over `dataParallel` ranks; messages name the option.
    public func validate(dataParallel: Int) throws(TrainingError) {
        guard steps >= 1 else { throw .invalidOption("steps must be at least 1, got \(steps)") }
        guard globalBatchSize >= 1 else { throw .invalidOption("batch_size must be at least 1, got \(globalBatchSize)") }
        guard globalBatchSize % dataParallel == 0 else {
            throw .invalidOption("batch_size \(globalBatchSize) does not split over \(dataParallel) data-parallel ranks; use a multiple of \(dataParallel)")
        }
        guard microBatchSize >= 1 else { throw .invalidOption("micro_batch_size must be at least 1, got \(microBatchSize)") }
        guard maxSeqLen >= 2 else { throw .invalidOption("max_seq_len must be at least 2, got \(maxSeqLen)") }
        guard learningRate > 0, learningRate.isFinite else { throw .invalidOption("lr must be positive, got \(learningRate)") }
        guard warmupSteps >= 0 else { throw .invalidOption("warmup_steps must not be negative, got \(warmupSteps)") }
        if let maxGradNorm { guard maxGradNorm > 0 else { throw .invalidOption("max_grad_norm must be positive, got \(maxGradNorm)") } }
    }
}

/// Errors of the step loop and its options.
public enum TrainingError: Error, Equatable, CustomStringConvertible {
    case invalidOption(String)
    /// The loss or the gradient became NaN or infinite.
    case nonFinite(step: Int, what: String)

    public var description: String {
        switch self {
        case .invalidOption(let detail): return "invalid training option: \(detail)"
        case .nonFinite(let step, let what): return "step \(step): the \(what) is not finite (NaN or Inf); lower the learning rate or check the data"
        }
    }
}
