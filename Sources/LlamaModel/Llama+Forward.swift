// The decoder forward on one tensor-parallel rank, the one layer code path of training,
// evaluation and generation: vocab-parallel embedding → L × (RMSNorm → column-parallel q, k, v
// with LoRA → RoPE → local causal GQA attention → row-parallel o with LoRA → residual; RMSNorm →
// column-parallel gate, up → SwiGLU → row-parallel down → residual) → final RMSNorm.
// Training keeps what the backward reads (TrainingWorkspace); evaluation and generation run the
// same code on an inference workspace (no gradient buffers, two residual slots), generation with
// a KV cache: keys and values go into the cache and queries attend to every cached position.
// Legend: N = tokens, C = hidden, QL = H_local·D, KL = G_local·D, FL = F_local, VL = V_local,
// D = head dim, r = LoRA rank, P = positions already in the KV cache.
// Collectives (each the identity for a group of one), as TensorParallelMapping's conjugate pairs:
// the embedding leaves a vocab-parallel region (reduceFromRegion: allReduceSum [N, C]); xn1 and
// xn2 enter the column-parallel regions (copyToRegion: identity here, allReduce in the backward);
// each row-parallel linear leaves its region (reduceFromRegion of u [N, r] and of the output
// [N, C], inside LoRALinear.forward).

import Kernels
import ProcessGroups

/// Everything one pass of the model over a batch of tokens needs besides the model (internal):
/// a training step, an evaluation, or a generation step with its KV cache.
struct PassContext {
    let tokens: Int
    let segments: [Range<Int>]
    let shard: LlamaShard
    let group: ProcessGroup
    let adapters: LowRankAdapters?
    /// Dropout active (training step, not evaluation).
    let training: Bool
    let workspace: TrainingWorkspace
    /// Generation: keys and values are appended at `cache.count` and queries also attend to the
    /// cached positions (one segment; the caller advances `cache.count` after the pass).
    var cache: KVCache? = nil
    /// The pass's positions reach LongRoPE's long factors (`Llama.usesLongRoPE`).
    var longContext = false

    /// Input of layer `l` (`l == L`: output of the last layer), `[N, C]`.
    func residual(_ l: Int) -> UnsafeMutablePointer<Float> { workspace.residual(l) }

    /// The activations layer `l` writes: the one shared set with full checkpointing.
    func activations(_ l: Int) -> LayerActivations {
        workspace.checkpointing == .full ? workspace.layers[0] : workspace.layers[l]
    }

    /// Whether `module` of layer `l` carries LoRA factors (its input is then needed in the backward).
    func adapts(_ module: LinearModule, layer l: Int) -> Bool {
        adapters?.factors(layer: l, module: module) != nil
    }

    /// Where layer `l` writes its keys and values (`[N, KL]` each): the layer's activations, or
    /// the KV cache after its `P` positions.
    func keyValueOutputs(_ l: Int, _ acts: LayerActivations) -> (k: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>) {
        guard let cache else { return (acts.k.pointer, acts.v.pointer) }
        let offset = cache.count * cache.width
        return (cache.keys(layer: l) + offset, cache.values(layer: l) + offset)
    }
}

extension Llama {
    /// The LoRA linear of `module` in `layer` on this rank.
    func linear(_ module: LinearModule, layer l: Int, _ ctx: PassContext) -> LoRALinear {
        let w = weights.layers[l]
        let weight: FrozenMatrix, bias: FloatBuffer?, columnOffset: Int
        switch module {
        case .qProj: (weight, bias, columnOffset) = (w.q, w.qBias, 0)
        case .kProj: (weight, bias, columnOffset) = (w.k, w.kBias, 0)
        case .vProj: (weight, bias, columnOffset) = (w.v, w.vBias, 0)
        case .oProj: (weight, bias, columnOffset) = (w.o, nil, ctx.shard.queryRows.lowerBound)
        case .gateProj: (weight, bias, columnOffset) = (w.gate, nil, 0)
        case .upProj: (weight, bias, columnOffset) = (w.up, nil, 0)
        case .downProj: (weight, bias, columnOffset) = (w.down, nil, ctx.shard.ffnColumns.lowerBound)
        }
        let factors = ctx.adapters?.factors(layer: l, module: module)
        // The parts of a fused module (Phi-3's qkv_proj) share PEFT's one dropout of its input.
        let maskModule = config.architecture.fusedProjections ? module.fusedProjection?.parts.first ?? module : module
        let mask = ctx.training ? factors.flatMap {
            DropoutMask(probability: $0.dropout, tokenKeys: ctx.workspace.tokenKeys, layer: l, module: maskModule,
                        columnOffset: columnOffset)
        } : nil
        // k and v only for the KV heads this rank projects (the others arrive from their owner).
        let outputs = module == .kProj || module == .vProj ? ctx.shard.computedKeyValueRowsLocal : nil
        return LoRALinear(weight: weight, bias: bias, lora: factors, dropout: mask, rowParallel: module.isRowParallel,
                          outputs: outputs)
    }

    /// Embedding and every layer; leaves the final-normed hidden states in
    /// `workspace.finalNormed` and each layer's input in `ctx.residual(l)`.
    func forward(ids: UnsafePointer<Int>, _ ctx: PassContext) throws {
        let ws = ctx.workspace, n = ctx.tokens, c = config.hiddenSize
        // x [N, C] = embedding rows held here, zeros for the others; allReduce completes every row.
        try Embedding.forward(out: ctx.residual(0), ids: ids, tokens: n, channels: c,
                              vocabStart: ctx.shard.vocabRows.lowerBound, vocabLocal: ctx.shard.vocabRows.count) { row, y in
            try weights.embedding.dequantizeRows(row, count: 1, into: y)
        }
        try TensorParallelMapping.reduceFromRegion.forward(ctx.residual(0), rows: n, columns: c, group: ctx.group)
        if config.architecture.embeddingScale == .sqrtHiddenSize {
            // Gemma: x · √C, the factor rounded to fp32 as transformers' buffer is.
            let factor = Float(Double(c).squareRoot()), x = ctx.residual(0)
            StepProfile.measure(.elementwise) { for i in 0..<(n * c) { x[i] *= factor } }
        }
        for l in 0..<config.numHiddenLayers {
            try layerForward(l, ctx.activations(l), ctx, storeOutput: true)
        }
        // xn [N, C] = rmsnorm(x_L)
        RMSNorm.forward(out: ws.finalNormed.pointer, rstd: ws.finalRstd.pointer, inp: ctx.residual(config.numHiddenLayers),
                        weight: weights.outputNorm.pointer, rows: n, channels: c, eps: Float(config.rmsNormEps))
    }

    /// Layer `l` from `ctx.residual(l)`, keeping its activations in `acts`; writes the output to
    /// `ctx.residual(l + 1)` when `storeOutput` (false when the backward recomputes the layer:
    /// the kept output is already there, so down_proj's product is skipped).
    func layerForward(_ l: Int, _ acts: LayerActivations, _ ctx: PassContext, storeOutput: Bool) throws {
        let ws = ctx.workspace, n = ctx.tokens, group = ctx.group
        let c = config.hiddenSize, eps = Float(config.rmsNormEps)
        let kvw = ctx.shard.keyValueWidthLocal, fw = ctx.shard.ffnColumns.count
        let layer = weights.layers[l]
        let x = ctx.residual(l)
        let scratch = ws.weightScratch.pointer, loraInput = ws.loraInput.pointer
        let positions = UnsafePointer(ws.positions)

        // Attention half.
        // xn1 [N, C] = rmsnorm(x)
        RMSNorm.forward(out: acts.xn1.pointer, rstd: acts.rstd1.pointer, inp: x, weight: layer.attentionNorm.pointer,
                        rows: n, channels: c, eps: eps)
        // q [N, QL], k [N, KL], v [N, KL] = xn1 · Wᵀ (+ b) + scaling · drop(xn1)·Aᵀ·Bᵀ (column-parallel)
        func project(_ module: LinearModule, _ inp: FloatBuffer, _ out: UnsafeMutablePointer<Float>) throws {
            try linear(module, layer: l, ctx).forward(out: out, inp: inp.pointer, tokens: n,
                                                           u: acts.bottleneck(module), loraInput: loraInput,
                                                           scratch: scratch, group: group)
        }
        // k, v first: a KV head shared with another rank goes out (or is awaited) while q runs.
        // With q/k norm the projections write qRaw / kRaw, normed per head into q / k.
        let (k, v) = ctx.keyValueOutputs(l, acts)
        let computed = ctx.shard.computedKeyValueRowsLocal
        try TensorParallelMapping.copyToRegion.forward(acts.xn1.pointer, rows: n, columns: c, group: group)
        try postKeyValueReceives(ctx)
        if let kNorm = layer.kNorm {
            try project(.kProj, acts.xn1, acts.kRaw.pointer)
            headNormForward(out: k, rstd: acts.kRstd.pointer, raw: acts.kRaw.pointer, weight: kNorm, tokens: n,
                            heads: computed.count / config.headDim, offset: computed.lowerBound, rowStride: kvw)
        } else {
            try project(.kProj, acts.xn1, k)
        }
        try project(.vProj, acts.xn1, v)
        RoPE.forward(x: k + computed.lowerBound, positions: positions, tokens: n,
                     heads: computed.count / config.headDim, rowStride: kvw, table: rope(layer: l, longContext: ctx.longContext))
        try sendKeyValues(k: k, v: v, ctx)
        try projectQuery(l, acts, ctx)
        try receiveKeyValues(k: k, v: v, ctx)
        attentionForward(l, acts, ctx)
        // xMid [N, C] = x + o(att) (row-parallel: the full output on every rank); sandwich
        // families: x + rmsnorm(o(att)), o(att) kept for the norm's backward.
        let postAttention = layer.postAttentionNorm
        try project(.oProj, acts.att, postAttention == nil ? ws.projection.pointer : acts.attentionOut.pointer)
        try finishKeyValueSends(gradients: false, ctx)
        if let postAttention {
            RMSNorm.forward(out: ws.projection.pointer, rstd: acts.rstd3.pointer, inp: acts.attentionOut.pointer,
                            weight: postAttention.pointer, rows: n, channels: c, eps: eps)
        }
        add(acts.xMid.pointer, x, ws.projection.pointer, count: n * c)

        // MLP half.
        // xn2 [N, C] = rmsnorm(xMid)
        RMSNorm.forward(out: acts.xn2.pointer, rstd: acts.rstd2.pointer, inp: acts.xMid.pointer,
                        weight: layer.ffnNorm.pointer, rows: n, channels: c, eps: eps)
        // gate, up [N, FL] = xn2 · Wᵀ + LoRA (column-parallel)
        try TensorParallelMapping.copyToRegion.forward(acts.xn2.pointer, rows: n, columns: c, group: group)
        try project(.gateProj, acts.xn2, acts.gate.pointer)
        try project(.upProj, acts.xn2, acts.up.pointer)
        // h [N, FL] = act(gate) · up
        mlpActivationForward(acts, count: n * fw)
        let postFFN = layer.postFFNNorm
        if storeOutput || postFFN != nil {
            // x_out [N, C] = xMid + down(h) (row-parallel); sandwich families: xMid +
            // rmsnorm(down(h)), down(h) kept (a recompute runs the product for the norm's input).
            try project(.downProj, acts.h, postFFN == nil ? ws.projection.pointer : acts.mlpOut.pointer)
            if let postFFN {
                RMSNorm.forward(out: ws.projection.pointer, rstd: acts.rstd4.pointer, inp: acts.mlpOut.pointer,
                                weight: postFFN.pointer, rows: n, channels: c, eps: eps)
            }
            if storeOutput { add(ctx.residual(l + 1), acts.xMid.pointer, ws.projection.pointer, count: n * c) }
        } else {
            // Recomputing for the backward: the output is kept already, and down_proj's backward
            // reads only its input h and, when adapted, its bottleneck u; no product with W_down
            // and no allReduce of its output.
            try linear(.downProj, layer: l, ctx).recomputeBottleneck(
                u: acts.bottleneck(.downProj), inp: acts.h.pointer, tokens: n, loraInput: ws.loraInput.pointer, group: group)
        }
    }
}

extension Llama {
    /// `acts.att` of layer `l` from `acts.q` and the keys and values (`acts.k`, `acts.v`, or the
    /// KV cache's positions `0 ..< P + N`):
    /// att [N, QL] = causal softmax(scale · q·kᵀ) · v per local head, per segment, in query blocks
    /// so the probability scratch stays [64, S].
    func attentionForward(_ l: Int, _ acts: LayerActivations, _ ctx: PassContext) {
        let d = config.headDim, qw = ctx.shard.queryWidthLocal, kvw = ctx.shard.keyValueWidthLocal
        let scale = config.attentionScale, window = config.attentionWindow(layer: l)
        let past = ctx.cache?.count ?? 0
        StepProfile.measure(.attention) {
            for segment in ctx.segments {
                // Keys of the segment's first token (with a cache: of position 0).
                let keys = ctx.cache.map { $0.keys(layer: l) } ?? acts.k.pointer + segment.lowerBound * kvw
                let values = ctx.cache.map { $0.values(layer: l) } ?? acts.v.pointer + segment.lowerBound * kvw
                for head in 0..<ctx.shard.queryHeads.count {
                    let kvHead = ctx.shard.localKVHead(ofLocalQueryHead: head)
                    var t0 = 0
                    while t0 < segment.count {
                        let rows = min(Llama.attentionQueryRows, segment.count - t0)
                        let token = segment.lowerBound + t0
                        Attention.forward(
                            out: acts.att.pointer + token * qw + head * d, probs: ctx.workspace.attentionScratch.pointer,
                            q: acts.q.pointer + token * qw + head * d,
                            k: keys + kvHead * d, v: values + kvHead * d,
                            queries: rows, past: past + t0, heads: 1, kvHeads: 1, headDim: d,
                            qStride: qw, kvStride: kvw, scale: scale, window: window)
                        t0 += rows
                    }
                }
            }
        }
    }

    /// Selective checkpointing, MLP half: rebuilds what layer `l`'s MLP backward reads and the
    /// layer did not keep from the kept activations, running the forward's exact arithmetic, so
    /// they equal what the forward computed: xn2, then up = xn2 · W_upᵀ + LoRA (the second GEMM
    /// that runs twice; keeping up would cost an [N, FL] buffer per layer), and h when down_proj
    /// is adapted (its LoRA input).
    func recomputeSelectedMLP(_ l: Int, _ acts: LayerActivations, _ ctx: PassContext) throws {
        let n = ctx.tokens, c = config.hiddenSize, eps = Float(config.rmsNormEps), ws = ctx.workspace
        RMSNorm.forward(out: acts.xn2.pointer, rstd: acts.rstd2.pointer, inp: acts.xMid.pointer,
                        weight: weights.layers[l].ffnNorm.pointer, rows: n, channels: c, eps: eps)
        // Column-parallel: no collective (the forward's copyToRegion is the identity).
        try linear(.upProj, layer: l, ctx).forward(out: acts.up.pointer, inp: acts.xn2.pointer, tokens: n,
                                                    u: acts.bottleneck(.upProj), loraInput: ws.loraInput.pointer,
                                                    scratch: ws.weightScratch.pointer, group: ctx.group)
        if ctx.adapts(.downProj, layer: l) { mlpActivationForward(acts, count: n * ctx.shard.ffnColumns.count) }
    }

    /// h = act(gate) · up: SiLU (SwiGLU) or tanh-GELU (GeGLU), as the family's MLP says.
    func mlpActivationForward(_ acts: LayerActivations, count: Int) {
        switch config.architecture.mlp {
        case .swiGLU: SwiGLU.forward(out: acts.h.pointer, gate: acts.gate.pointer, up: acts.up.pointer, count: count)
        case .geGLU: GeGLU.forward(out: acts.h.pointer, gate: acts.gate.pointer, up: acts.up.pointer, count: count)
        }
    }

    /// Selective checkpointing, attention half: rebuilds xn1, q (unless the workspace keeps it)
    /// and, when o_proj is adapted, its input. Running in the attention half's backward, between
    /// the same two collectives as the attention forward, puts the q GEMM where a rank holding
    /// fewer query heads waits anyway, instead of lengthening the MLP half every rank shares.
    func recomputeSelectedAttention(_ l: Int, _ acts: LayerActivations, _ ctx: PassContext) throws {
        let n = ctx.tokens, c = config.hiddenSize, eps = Float(config.rmsNormEps)
        // xn1 = rmsnorm(x); q = xn1 · W_qᵀ (+ b) + LoRA, then RoPE (column-parallel: no collective)
        RMSNorm.forward(out: acts.xn1.pointer, rstd: acts.rstd1.pointer, inp: ctx.residual(l),
                        weight: weights.layers[l].attentionNorm.pointer, rows: n, channels: c, eps: eps)
        if !ctx.workspace.keepsQuery { try projectQuery(l, acts, ctx) }
        if ctx.adapts(.oProj, layer: l) { attentionForward(l, acts, ctx) }
    }

    /// q = xn1 · W_qᵀ (+ b) + LoRA (into qRaw and normed per head with q/k norm), then RoPE,
    /// from `acts.xn1` (column-parallel: no collective). The forward and the recompute both run it.
    func projectQuery(_ l: Int, _ acts: LayerActivations, _ ctx: PassContext) throws {
        let n = ctx.tokens, ws = ctx.workspace
        let heads = ctx.shard.queryHeads.count, qw = ctx.shard.queryWidthLocal
        let qNorm = weights.layers[l].qNorm
        try linear(.qProj, layer: l, ctx).forward(out: qNorm == nil ? acts.q.pointer : acts.qRaw.pointer,
                                                  inp: acts.xn1.pointer, tokens: n,
                                                  u: acts.bottleneck(.qProj), loraInput: ws.loraInput.pointer,
                                                  scratch: ws.weightScratch.pointer, group: ctx.group)
        if let qNorm {
            headNormForward(out: acts.q.pointer, rstd: acts.qRstd.pointer, raw: acts.qRaw.pointer, weight: qNorm,
                            tokens: n, heads: heads, offset: 0, rowStride: qw)
        }
        RoPE.forward(x: acts.q.pointer, positions: UnsafePointer(ws.positions), tokens: n, heads: heads, rowStride: qw,
                     table: rope(layer: l, longContext: ctx.longContext))
    }
}

/// `out[i] = a[i] + b[i]`.
private func add(_ out: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) {
    StepProfile.measure(.elementwise) {
        for i in 0..<count { out[i] = a[i] + b[i] }
    }
}
