// The training backward on one tensor-parallel rank: the forward of Llama+Forward.swift
// replayed in reverse, layer by layer. With full checkpointing each layer's forward is
// recomputed from its kept input first; with selective checkpointing each half recomputes its
// element-wise inputs and q at its own start (the last layer's activations are still in place
// either way). Frozen weights
// get no gradient; only dx flows through them. LoRA gradients accumulate (+=).
// Legend: N = tokens, C = hidden, QL = H_local·D, KL = G_local·D, FL = F_local.
// Collectives (TensorParallelMapping, the conjugates of the forward's): after the column-parallel
// q, k, v (and gate, up) the summed input gradient is allReduced once [N, C] (copyToRegion's
// backward); the row-parallel o and down need none (reduceFromRegion's backward is the identity).

import Kernels
import ProcessGroups

extension Llama {
    /// Backward from `workspace.dNormed` (`[N, C]`, the gradient of the final-normed hidden
    /// states, already complete on every rank) down to the embedding output (dropped: frozen).
    /// `layerDone(l)` runs as soon as layer `l`'s LoRA gradients are final for this micro-batch.
    func backward(_ ctx: PassContext, layerDone: ((_ layer: Int) throws -> Void)?) throws {
        let ws = ctx.workspace, n = ctx.tokens, c = config.hiddenSize, layers = config.numHiddenLayers
        // xn = rmsnorm(x_L)  ⇒  dx_L [N, C]
        RMSNorm.backward(dinp: ws.dResidual.pointer, dweight: nil, dout: ws.dNormed.pointer,
                         inp: ctx.residual(layers), weight: weights.outputNorm.pointer, rstd: ws.finalRstd.pointer,
                         rows: n, channels: c)
        for l in (0..<layers).reversed() {
            let acts = ctx.activations(l)
            // The last layer's activations are still in place.
            let recomputes = l != layers - 1
            if recomputes && ws.checkpointing == .full { try layerForward(l, acts, ctx, storeOutput: false) }
            try layerBackward(l, acts, ctx, recomputeSelected: recomputes && ws.checkpointing == .selective)
            try layerDone?(l)
        }
    }

    /// `workspace.dResidual`: the gradient of layer `l`'s output on entry, of its input on return.
    /// `recomputeSelected`: rebuild each half's unkept inputs at that half's start.
    func layerBackward(_ l: Int, _ acts: LayerActivations, _ ctx: PassContext, recomputeSelected: Bool) throws {
        let ws = ctx.workspace, n = ctx.tokens, group = ctx.group
        let c = config.hiddenSize, d = config.headDim
        let hLocal = ctx.shard.queryHeads.count
        let qw = ctx.shard.queryWidthLocal, kvw = ctx.shard.keyValueWidthLocal, fw = ctx.shard.ffnColumns.count
        let layer = weights.layers[l]
        let dres = ws.dResidual.pointer, dxn = ws.dNormed.pointer
        let positions = UnsafePointer(ws.positions)
        func backprop(_ module: LinearModule, dinp: FloatBuffer, dout: FloatBuffer, inp: FloatBuffer, beta: Float) throws {
            try linear(module, layer: l, ctx).backward(
                dinp: dinp.pointer, dout: dout.pointer, inp: inp.pointer, u: acts.bottleneck(module), tokens: n,
                beta: beta, du: ws.du.pointer, loraInput: ws.loraInput.pointer, loraDx: ws.loraDx.pointer,
                scratch: ws.weightScratch.pointer)
        }

        // MLP half.
        if recomputeSelected { try recomputeSelectedMLP(l, acts, ctx) }
        // x_out = xMid + down(h)  ⇒  dh [N, FL] = dx_out · W_down + LoRA (exact on this rank);
        // sandwich families: x_out = xMid + rmsnorm(down(h)), through the norm first
        let downGradient = productGradient(throughPostNorm: layer.postFFNNorm, input: acts.mlpOut, rstd: acts.rstd4, ctx)
        try backprop(.downProj, dinp: ws.dh, dout: downGradient, inp: acts.h, beta: 0)
        // h = act(gate) · up  ⇒  dgate (in place in dh), dup [N, FL]
        switch config.architecture.mlp {
        case .swiGLU:
            SwiGLU.backward(dgate: ws.dh.pointer, dup: ws.dUp.pointer, dout: ws.dh.pointer,
                            gate: acts.gate.pointer, up: acts.up.pointer, count: n * fw)
        case .geGLU:
            GeGLU.backward(dgate: ws.dh.pointer, dup: ws.dUp.pointer, dout: ws.dh.pointer,
                           gate: acts.gate.pointer, up: acts.up.pointer, count: n * fw)
        }
        // gate, up = xn2 · Wᵀ + LoRA  ⇒  dxn2 [N, C] = dgate·W_gate + dup·W_up + LoRA (partial)
        try backprop(.gateProj, dinp: ws.dNormed, dout: ws.dh, inp: acts.xn2, beta: 0)
        try backprop(.upProj, dinp: ws.dNormed, dout: ws.dUp, inp: acts.xn2, beta: 1)
        try TensorParallelMapping.copyToRegion.backward(dxn, rows: n, columns: c, group: group)
        // xn2 = rmsnorm(xMid)  ⇒  dxMid = dx_out + rmsnorm'(dxn2)
        RMSNorm.backward(dinp: dxn, dweight: nil, dout: dxn, inp: acts.xMid.pointer, weight: layer.ffnNorm.pointer,
                         rstd: acts.rstd2.pointer, rows: n, channels: c)
        Elementwise.accumulate(into: dres, dxn, count: n * c)

        // Attention half.
        try postKeyValueGradientReceives(ctx)
        if recomputeSelected { try recomputeSelectedAttention(l, acts, ctx) }
        // xMid = x + o(att)  ⇒  datt [N, QL] = dxMid · W_o + LoRA (exact on this rank); sandwich
        // families: xMid = x + rmsnorm(o(att)), through the norm first
        let outputGradient = productGradient(throughPostNorm: layer.postAttentionNorm, input: acts.attentionOut,
                                             rstd: acts.rstd3, ctx)
        try backprop(.oProj, dinp: ws.dAtt, dout: outputGradient, inp: acts.att, beta: 0)
        // att = attention(q, k, v), per segment and local head  ⇒  dq, dk, dv. A KV head's query
        // heads add into its dk, dv (zeroed first); a KV head shared with another rank gets only
        // this rank's heads' share: handed to its owner, or (both ranks projecting it) passed on
        // by the k/v projections' backward: dxn1 is summed over the group below, the k/v LoRA
        // gradB rows by the trainer.
        let dk = ws.dk.pointer, dv = ws.dv.pointer
        let scale = config.attentionScale, window = config.attentionWindow(layer: l)
        StepProfile.measure(.attention) {
            dk.update(repeating: 0, count: n * kvw)
            dv.update(repeating: 0, count: n * kvw)
            for segment in ctx.segments {
                let t = segment.lowerBound
                for head in 0..<hLocal {
                    let kv = ctx.shard.localKVHead(ofLocalQueryHead: head) * d
                    Attention.backward(
                        dq: ws.dq.pointer + t * qw + head * d, dk: dk + t * kvw + kv, dv: dv + t * kvw + kv,
                        scratch: ws.attentionScratch.pointer, dout: ws.dAtt.pointer + t * qw + head * d,
                        q: acts.q.pointer + t * qw + head * d, k: acts.k.pointer + t * kvw + kv,
                        v: acts.v.pointer + t * kvw + kv,
                        queries: segment.count, past: 0, heads: 1, kvHeads: 1, headDim: d,
                        qStride: qw, kvStride: kvw, scale: scale, window: window,
                        accumulateKeyValue: true)
                }
            }
        }
        // A KV head projected by another rank: send it this rank's share; one projected here for
        // others: add theirs.
        try sendKeyValueGradients(ctx)
        try addKeyValueGradients(ctx)
        // RoPE(q), RoPE(k)  ⇒  rotate the gradients back (k: the heads projected here)
        let computed = ctx.shard.computedKeyValueRowsLocal
        let table = rope(layer: l, longContext: ctx.longContext)
        RoPE.backward(dx: ws.dq.pointer, positions: positions, tokens: n, heads: hLocal, rowStride: qw, table: table)
        RoPE.backward(dx: ws.dk.pointer + computed.lowerBound, positions: positions, tokens: n,
                      heads: computed.count / d, rowStride: kvw, table: table)
        // q, k = headnorm(qRaw, kRaw) (q/k-norm families)  ⇒  dqRaw, dkRaw in place
        if let qNorm = layer.qNorm, let kNorm = layer.kNorm {
            headNormBackward(grad: ws.dq.pointer, raw: acts.qRaw.pointer, rstd: acts.qRstd.pointer, weight: qNorm,
                             tokens: n, heads: hLocal, offset: 0, rowStride: qw)
            headNormBackward(grad: ws.dk.pointer, raw: acts.kRaw.pointer, rstd: acts.kRstd.pointer, weight: kNorm,
                             tokens: n, heads: computed.count / d, offset: computed.lowerBound, rowStride: kvw)
        }
        // q, k, v = xn1 · Wᵀ + b + LoRA  ⇒  dxn1 [N, C] = dq·W_q + dk·W_k + dv·W_v + LoRA (partial)
        try backprop(.qProj, dinp: ws.dNormed, dout: ws.dq, inp: acts.xn1, beta: 0)
        try backprop(.kProj, dinp: ws.dNormed, dout: ws.dk, inp: acts.xn1, beta: 1)
        try backprop(.vProj, dinp: ws.dNormed, dout: ws.dv, inp: acts.xn1, beta: 1)
        try TensorParallelMapping.copyToRegion.backward(dxn, rows: n, columns: c, group: group)
        try finishKeyValueSends(gradients: true, ctx)
        // xn1 = rmsnorm(x)  ⇒  dx = dxMid + rmsnorm'(dxn1)
        RMSNorm.backward(dinp: dxn, dweight: nil, dout: dxn, inp: ctx.residual(l), weight: layer.attentionNorm.pointer,
                         rstd: acts.rstd1.pointer, rows: n, channels: c)
        Elementwise.accumulate(into: dres, dxn, count: n * c)
    }
}

extension Llama {
    /// The gradient of a row-parallel product's output `[N, C]` from the residual stream's
    /// (`workspace.dResidual`): through the post-norm of sandwich families (into
    /// `workspace.projection`, free during the backward), else the residual's gradient itself.
    func productGradient(throughPostNorm norm: FloatBuffer?, input: FloatBuffer, rstd: FloatBuffer,
                         _ ctx: PassContext) -> FloatBuffer {
        let ws = ctx.workspace
        guard let norm else { return ws.dResidual }
        RMSNorm.backward(dinp: ws.projection.pointer, dweight: nil, dout: ws.dResidual.pointer, inp: input.pointer,
                         weight: norm.pointer, rstd: rstd.pointer, rows: ctx.tokens, channels: config.hiddenSize)
        return ws.projection
    }
}
