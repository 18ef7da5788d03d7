// A training session's non-finite policy (`tessera train --skip-nonfinite N`): a step whose
// loss or gradient norm is NaN/Inf makes no optimizer update (the Trainer throws before AdamW and
// zeroes the gradients); up to N such steps are skipped and counted, the next one stops the run. Without the flag (N = 0) the first
// one stops it. The verdict is the same on every rank (the loss and the norm are reduced over
// the whole mesh before the check), so the stop is an agreed failure printed once, and nothing
// is saved: the last checkpoint on disk is the last good one.
import ProcessGroups

public final class NonFiniteSteps {
    public let limit: Int
    /// 1-based steps whose loss is forced to NaN (fault-injection tests).
    public let injected: Set<Int>
    /// 1-based steps skipped so far.
    public private(set) var skipped: [Int] = []

    public init(limit: Int, injected: Set<Int> = []) {
        self.limit = limit
        self.injected = injected
    }

    /// Runs step `index` (0-based); nil when it was skipped.
    public func run(_ index: Int, _ step: (_ injectNonFinite: Bool) throws -> StepReport) throws -> StepReport? {
        do {
            return try step(injected.contains(index + 1))
        } catch TrainingError.nonFinite(let step, let what) {
            guard skipped.count < limit else {
                let after = skipped.isEmpty ? "" : " after skipping \(skipped.count) such step(s) (--skip-nonfinite \(limit))"
                throw AgreedFailure(message: "step \(step): the \(what) is not finite (NaN or Inf)\(after); stopped without saving (the last checkpoint is kept: continue with --resume). Lower the learning rate, check the data, or pass --skip-nonfinite N to skip up to N such steps")
            }
            skipped.append(step)
            return nil
        }
    }

    /// The line for the progress output once a step is skipped.
    public var lastSkipNote: String? {
        skipped.last.map { "step \($0): loss or gradient not finite; skipped without an update (\(skipped.count) of at most \(limit), --skip-nonfinite)" }
    }

    /// The end-of-run summary; nil when nothing was skipped.
    public var summary: String? {
        skipped.isEmpty ? nil : "skipped \(skipped.count) step(s) with a non-finite loss or gradient: \(skipped.map(String.init).joined(separator: ", "))"
    }
}
