// Buffers of the forward alone (evaluation and generation), sized once for at most `maxTokens`
// tokens per call and reused (nothing is allocated per layer or per call). The layers run the
// training forward's code (Llama+Forward.swift) on an inference `TrainingWorkspace`; this adds
// the per-token losses of `Llama.evaluate`.
// Legend: N = maxTokens, S = maxKeys (longest key range one query attends).

import Kernels
import ProcessGroups

/// Reusable activations for `Llama.evaluate` and `Llama.generate` on an unsharded model.
public final class LlamaWorkspace: @unchecked Sendable {
    /// The layer buffers (whole shard, no gradients, two residual slots).
    let pass: TrainingWorkspace
    let losses: FloatBuffer     // [N]
    /// The unsharded model's group, kept so a generation step allocates nothing.
    let group = SingleRankGroup()

    /// Tokens one forward may process.
    public var maxTokens: Int { pass.maxTokens }
    /// Keys one query may attend (sequence length, or KV-cache capacity).
    public var maxKeys: Int { pass.maxKeys }

    var positions: UnsafeMutablePointer<Int> { pass.positions }   // [N]
    var targets: UnsafeMutablePointer<Int> { pass.targets }       // [N]
    /// `[K, V]` logits of one chunk of rows (K = `logitRows`, at least 1).
    var logits: FloatBuffer { pass.logits }
    var logitRows: Int { pass.sizes.logitRows }

    /// Sizes every buffer for `model` and at most `maxTokens` tokens per forward; `maxKeys`
    /// defaults to `maxTokens` (set it to the KV-cache capacity for generation).
    public init(model: Llama, maxTokens: Int, maxKeys: Int? = nil) {
        precondition(maxTokens > 0, "LlamaWorkspace: maxTokens must be positive")
        pass = TrainingWorkspace(inferenceFor: model, shard: .whole(model.config), maxTokens: maxTokens,
                                 maxKeys: maxKeys)
        losses = FloatBuffer(count: maxTokens)
    }
}
