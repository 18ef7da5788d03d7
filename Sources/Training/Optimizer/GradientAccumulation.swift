// Gradient accumulation needs no machinery: gradients accumulate (+=) by the code base's rule
// and are zeroed only at the start of an optimizer step. Per step:
//   zeroGradients(); for each of k micro-batches { backward(loss · lossScale) }; clip; step()
// This type holds k and the loss factor so that the accumulated gradient equals the gradient of
// the mean loss over the step's micro-batches (transformers' behaviour without
// num_items_in_batch), or, with `tokenWeightedScale`, of the mean over all its target tokens.

/// How many micro-batches make one optimizer step, and how to weight their losses.
public struct GradientAccumulation: Sendable, Equatable {
    /// Micro-batches per optimizer step (≥ 1).
    public let microBatchesPerStep: Int

    public init(microBatchesPerStep: Int) throws {
        guard microBatchesPerStep >= 1 else {
            throw OptimizerError.invalidSetting("gradient accumulation steps must be ≥ 1, got \(microBatchesPerStep)")
        }
        self.microBatchesPerStep = microBatchesPerStep
    }

    /// Factor for each micro-batch's mean loss (and its backward seed): `1 / k`.
    public var lossScale: Float { 1 / Float(microBatchesPerStep) }

    /// True when micro-batch `index` (0-based, counted from the start of the run) completes an
    /// optimizer step.
    public func completesStep(microBatch index: Int) -> Bool {
        (index + 1) % microBatchesPerStep == 0
    }

    /// Factor for a micro-batch's mean loss over its `tokens` targets when the step should
    /// average over all `stepTokens` targets of its micro-batches: `tokens / stepTokens`.
    public static func tokenWeightedScale(tokens: Int, stepTokens: Int) -> Float {
        stepTokens > 0 ? Float(Double(tokens) / Double(stepTokens)) : 0
    }
}
