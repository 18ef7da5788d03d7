// Activation buffers of one forward pass, sized once for at most `maxTokens` tokens and reused
// by every call (nothing is allocated per layer or per step).
// Legend: N = maxTokens, Q = attention query rows per call, S = maxKeys (longest key range one
// query attends), C = hidden, F = intermediate, H·D = query width, G·D = key/value width,
// K = logit chunk rows, V = vocab.

import Kernels

/// Reusable activations for `Llama` forward passes.
public final class LlamaWorkspace: @unchecked Sendable {
    /// Tokens one forward may process.
    public let maxTokens: Int
    /// Keys one query may attend (sequence length, or KV-cache capacity).
    public let maxKeys: Int

    let residual: FloatBuffer   // [N, C]  the residual stream x
    let normed: FloatBuffer     // [N, C]  RMSNorm output (final: input of the head)
    let rstd: FloatBuffer       // [N]
    let q: FloatBuffer          // [N, H·D]
    let k: FloatBuffer          // [N, G·D] (when no KV cache is used)
    let v: FloatBuffer          // [N, G·D]
    let attention: FloatBuffer  // [N, H·D] attention output, input of o_proj
    let gate: FloatBuffer       // [N, F]  gate, then silu(gate)·up in place
    let up: FloatBuffer         // [N, F]
    let probs: FloatBuffer      // [Q, S]  attention probabilities of one head and query block
    let weightScratch: FloatBuffer // [R, I] one dequantized weight tile
    let logits: FloatBuffer     // [K, V]
    let losses: FloatBuffer     // [N]
    let positions: UnsafeMutablePointer<Int>    // [N]
    let targets: UnsafeMutablePointer<Int>      // [N]

    /// Sizes every buffer for `model` and at most `maxTokens` tokens per forward; `maxKeys`
    /// defaults to `maxTokens` (set it to the KV-cache capacity for generation).
    public init(model: Llama, maxTokens: Int, maxKeys: Int? = nil) {
        precondition(maxTokens > 0, "LlamaWorkspace: maxTokens must be positive")
        let c = model.config
        let n = maxTokens
        self.maxTokens = n
        self.maxKeys = max(maxKeys ?? n, n)
        residual = FloatBuffer(count: n * c.hiddenSize)
        normed = FloatBuffer(count: n * c.hiddenSize)
        rstd = FloatBuffer(count: n)
        q = FloatBuffer(count: n * c.queryWidth)
        k = FloatBuffer(count: n * c.keyValueWidth)
        v = FloatBuffer(count: n * c.keyValueWidth)
        attention = FloatBuffer(count: n * c.queryWidth)
        gate = FloatBuffer(count: n * c.intermediateSize)
        up = FloatBuffer(count: n * c.intermediateSize)
        probs = FloatBuffer(count: min(n, Llama.attentionQueryRows) * self.maxKeys)
        weightScratch = FloatBuffer(count: model.weights.linearScratchCount)
        logits = FloatBuffer(count: Llama.logitChunkRows * c.vocabSize)
        losses = FloatBuffer(count: n)
        positions = .allocate(capacity: n)
        positions.initialize(repeating: 0, count: n)
        targets = .allocate(capacity: n)
        targets.initialize(repeating: 0, count: n)
    }

    deinit {
        positions.deallocate()
        targets.deallocate()
    }
}
