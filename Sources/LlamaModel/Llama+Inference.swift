// The forward of evaluation and generation on an unsharded model: the training forward's layer
// code (Llama+Forward.swift) without adapters or dropout, on a `LlamaWorkspace`, then the head.
// Legend: N = tokens in this call, C = hidden, V = vocab. Tokens are a flat list of independent
// sequences (`segments`); attention never crosses a segment. With a KV cache there is one
// segment, continuing the cached one.

import Kernels

extension Llama {
    /// Runs every layer over `tokens` tokens and leaves the final-normed hidden states in the
    /// workspace (`[N, C]`, read by `headLogits`). Positions must already be in
    /// `workspace.positions`.
    ///
    /// - Parameters:
    ///   - ids: `[N]`, validated token ids.
    ///   - segments: ranges of `0..<N`, one per sequence, in order, covering every token.
    ///   - cache: when given, keys/values are appended at `cache.count` and queries also attend
    ///     to the cached positions; `segments` must then be a single range.
    func forwardHidden(ids: UnsafePointer<Int>, tokens n: Int, segments: [Range<Int>],
                       cache: KVCache?, workspace ws: LlamaWorkspace) throws {
        let past = cache?.count ?? 0
        precondition(n > 0 && n <= ws.maxTokens, "forwardHidden: token count outside the workspace")
        precondition(cache == nil || segments.count == 1, "forwardHidden: a KV cache holds one sequence")
        precondition(cache.map { past + n <= $0.capacity && $0.width == config.keyValueWidth } ?? true,
                     "forwardHidden: the KV cache is full or belongs to another model")
        precondition(past + (segments.map(\.count).max() ?? 0) <= ws.maxKeys, "forwardHidden: more keys than the workspace holds")
        let ctx = PassContext(tokens: n, segments: segments, shard: ws.pass.shard, group: ws.group, adapters: nil,
                              training: false, workspace: ws.pass, cache: cache,
                              longContext: usesLongRoPE(positions: ws.pass.positions, count: n))
        try forward(ids: ids, ctx)
        cache?.count += n
    }

    /// Logits of rows `start ..< start + count` of the final-normed hidden states into `out`
    /// (`[count, V]`).
    func headLogits(start: Int, count: Int, into out: UnsafeMutablePointer<Float>, workspace ws: LlamaWorkspace) throws {
        try weights.output.linearForward(out: out, inp: ws.pass.finalNormed.pointer + start * config.hiddenSize,
                                         tokens: count, scratch: ws.pass.weightScratch.pointer)
    }

    /// Checks ids against the vocabulary (user input: a typed error, not a crash).
    func validate(ids: [Int]) throws {
        for (i, id) in ids.enumerated() where id < 0 || id >= config.vocabSize {
            throw LlamaModelError.invalidInput("token id \(id) at index \(i) is outside the vocabulary 0..<\(config.vocabSize)")
        }
    }
}
