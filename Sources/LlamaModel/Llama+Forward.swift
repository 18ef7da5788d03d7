// The decoder forward: embedding → L × (RMSNorm → q,k,v → RoPE → causal GQA attention → o_proj
// → residual; RMSNorm → gate, up → SwiGLU → down → residual) → final RMSNorm.
// Legend: N = tokens in this call, C = hidden, F = intermediate, H = query heads, G = kv heads,
// D = head dim. Tokens are a flat list of independent sequences (`segments`); attention never
// crosses a segment. With a KV cache there is one segment, continuing the cached one.

import Kernels

extension Llama {
    /// Runs every block over `tokens` tokens and leaves the final-normed hidden states in
    /// `workspace.normed` (`[N, C]`). Positions must already be in `workspace.positions`.
    ///
    /// - Parameters:
    ///   - ids: `[N]`, validated token ids.
    ///   - segments: ranges of `0..<N`, one per sequence, in order, covering every token.
    ///   - cache: when given, keys/values are appended at `cache.count` and queries also attend
    ///     to the cached positions; `segments` must then be a single range.
    func forwardHidden(ids: UnsafePointer<Int>, tokens n: Int, segments: [Range<Int>],
                       cache: KVCache?, workspace ws: LlamaWorkspace) throws {
        let cfg = config
        let c = cfg.hiddenSize, f = cfg.intermediateSize, d = cfg.headDim
        let h = cfg.numAttentionHeads, g = cfg.numKeyValueHeads
        let qw = cfg.queryWidth, kvw = cfg.keyValueWidth
        let eps = Float(cfg.rmsNormEps)
        let scale = 1 / Float(d).squareRoot()
        let past = cache?.count ?? 0
        precondition(n > 0 && n <= ws.maxTokens, "forwardHidden: token count outside the workspace")
        precondition(cache == nil || segments.count == 1, "forwardHidden: a KV cache holds one sequence")
        precondition(past + (segments.map(\.count).max() ?? 0) <= ws.maxKeys, "forwardHidden: more keys than the workspace holds")
        let x = ws.residual.pointer, xn = ws.normed.pointer, scratch = ws.weightScratch.pointer
        let positions = UnsafePointer(ws.positions)

        // x [N, C] = embedding rows
        try Embedding.forward(out: x, ids: ids, tokens: n, channels: c, vocabLocal: cfg.vocabSize) { row, y in
            try weights.embedding.dequantizeRows(row, count: 1, into: y)
        }
        for (l, layer) in weights.layers.enumerated() {
            // Keys/values go straight into the cache when there is one.
            let kAll = cache.map { UnsafeMutablePointer($0.keys(layer: l)) } ?? ws.k.pointer        // [past + N, G·D]
            let vAll = cache.map { UnsafeMutablePointer($0.values(layer: l)) } ?? ws.v.pointer      // [past + N, G·D]
            let kNew = kAll + past * kvw, vNew = vAll + past * kvw

            // Attention half: xn = rmsnorm(x); q, k, v = xn · Wᵀ (+ b); RoPE(q, k)
            RMSNorm.forward(out: xn, rstd: ws.rstd.pointer, inp: x, weight: layer.attentionNorm.pointer,
                            rows: n, channels: c, eps: eps)
            try layer.q.linearForward(out: ws.q.pointer, inp: xn, tokens: n, scratch: scratch)   // [N, H·D]
            try layer.k.linearForward(out: kNew, inp: xn, tokens: n, scratch: scratch)          // [N, G·D]
            try layer.v.linearForward(out: vNew, inp: xn, tokens: n, scratch: scratch)          // [N, G·D]
            if let b = layer.qBias { addBias(ws.q.pointer, b, rows: n, width: qw) }
            if let b = layer.kBias { addBias(kNew, b, rows: n, width: kvw) }
            if let b = layer.vBias { addBias(vNew, b, rows: n, width: kvw) }
            RoPE.forward(x: ws.q.pointer, positions: positions, tokens: n, heads: h, rowStride: qw, table: rope)
            RoPE.forward(x: kNew, positions: positions, tokens: n, heads: g, rowStride: kvw, table: rope)

            // One head and at most `attentionQueryRows` queries at a time keep the probability
            // scratch at [rows, S]: a query block at offset t0 is a call with past + t0 keys before it.
            for segment in segments {
                let keyBase = cache == nil ? segment.lowerBound : 0
                for head in 0..<h {
                    let kvHead = head / (h / g)
                    var t0 = 0
                    while t0 < segment.count {
                        let rows = min(Llama.attentionQueryRows, segment.count - t0)
                        let token = segment.lowerBound + t0
                        Attention.forward(
                            out: ws.attention.pointer + token * qw + head * d,
                            probs: ws.probs.pointer,
                            q: ws.q.pointer + token * qw + head * d,
                            k: kAll + keyBase * kvw + kvHead * d,
                            v: vAll + keyBase * kvw + kvHead * d,
                            queries: rows, past: past + t0, heads: 1, kvHeads: 1, headDim: d,
                            qStride: qw, kvStride: kvw, scale: scale)
                        t0 += rows
                    }
                }
            }
            // x += attention · Woᵀ
            try layer.o.linearForward(out: x, inp: ws.attention.pointer, tokens: n, scratch: scratch, beta: 1)

            // MLP half: xn = rmsnorm(x); x += (silu(xn·Wgᵀ) ⊙ xn·Wuᵀ) · Wdᵀ
            RMSNorm.forward(out: xn, rstd: ws.rstd.pointer, inp: x, weight: layer.ffnNorm.pointer,
                            rows: n, channels: c, eps: eps)
            try layer.gate.linearForward(out: ws.gate.pointer, inp: xn, tokens: n, scratch: scratch)  // [N, F]
            try layer.up.linearForward(out: ws.up.pointer, inp: xn, tokens: n, scratch: scratch)      // [N, F]
            SwiGLU.forward(out: ws.gate.pointer, gate: ws.gate.pointer, up: ws.up.pointer, count: n * f)
            try layer.down.linearForward(out: x, inp: ws.gate.pointer, tokens: n, scratch: scratch, beta: 1)
        }
        RMSNorm.forward(out: xn, rstd: ws.rstd.pointer, inp: x, weight: weights.outputNorm.pointer,
                        rows: n, channels: c, eps: eps)
        cache?.count += n
    }

    /// Logits of rows `start ..< start + count` of `workspace.normed` into `out` (`[count, V]`).
    func headLogits(start: Int, count: Int, into out: UnsafeMutablePointer<Float>, workspace ws: LlamaWorkspace) throws {
        try weights.output.linearForward(out: out, inp: ws.normed.pointer + start * config.hiddenSize,
                                         tokens: count, scratch: ws.weightScratch.pointer)
    }

    /// Checks ids against the vocabulary (user input: a typed error, not a crash).
    func validate(ids: [Int]) throws {
        for (i, id) in ids.enumerated() where id < 0 || id >= config.vocabSize {
            throw LlamaModelError.invalidInput("token id \(id) at index \(i) is outside the vocabulary 0..<\(config.vocabSize)")
        }
    }
}

/// `y[n, :] += b` for every row.
private func addBias(_ y: UnsafeMutablePointer<Float>, _ b: FloatBuffer, rows: Int, width: Int) {
    for r in 0..<rows {
        let row = y + r * width
        for i in 0..<width { row[i] += b.pointer[i] }
    }
}
