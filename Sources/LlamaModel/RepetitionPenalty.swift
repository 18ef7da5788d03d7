// transformers' RepetitionPenaltyLogitsProcessor: every token id already in the prompt or the
// generated ids has its logit divided by the penalty when positive, multiplied when negative
// (so penalty > 1 always makes it less likely). Each id counts once however often it occurred.
// Legend: V = vocab.

/// The set of ids seen so far and the penalty to apply to their logits.
public struct RepetitionPenalty: Sendable {
    /// 1 means off.
    public let penalty: Float
    private var seen: [Bool]        // [V] allocated once, so recording and applying never allocate

    public init(penalty: Float, vocabSize: Int) {
        self.penalty = penalty
        seen = [Bool](repeating: false, count: penalty == 1 ? 0 : vocabSize)
    }

    /// Whether applying changes anything.
    public var isActive: Bool { penalty != 1 }

    /// Marks ids as present in the context (the prompt, then each chosen token).
    public mutating func record<S: Sequence<Int>>(_ ids: S) {
        guard isActive else { return }
        for id in ids where seen.indices.contains(id) { seen[id] = true }
    }

    /// Penalizes the logits of every recorded id in place (`logits`: `[V]`).
    public func apply(to logits: UnsafeMutablePointer<Float>) {
        guard isActive else { return }
        for id in seen.indices where seen[id] { logits[id] = Self.penalized(logits[id], penalty) }
    }

    /// One logit after the penalty, exactly transformers' `where(score < 0, score * p, score / p)`.
    @inlinable public static func penalized(_ logit: Float, _ penalty: Float) -> Float {
        logit < 0 ? logit * penalty : logit / penalty
    }
}
