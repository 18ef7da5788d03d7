// Every buffer one training step (forward with LoRA, vocab-parallel loss, backward) needs, sized
// once from (config, shard, max tokens per micro-batch, max LoRA rank) and reused: the step
// allocates nothing (docs/architecture.md §9).
// Legend: N = maxTokens, L = layers, C = hidden, QL = H_local·D, KL = G_local·D, FL = F_local,
// VL = V_local, r = max LoRA rank, I = widest local input of a linear (max(C, QL, FL)),
// K = logit chunk rows, Q = attention query block (64), R·I_w = one dequantized weight tile.
//
// The residual stream entering every layer is always kept ([L+1, N, C], the last slot is the
// output of the final layer). Full activation checkpointing (default) reuses ONE set of layer
// activations: the backward recomputes each layer's forward from its kept input. Selective
// checkpointing keeps a set per layer whose GEMM outputs but q are its own and whose other
// buffers (xn1, q, att, xn2, h, up) are one shared set, recomputed in the backward; with
// `keepsQuery` each layer keeps its q as well (the backward then skips the q GEMM: the shard
// planner gives that to the tensor-parallel ranks holding more query heads, to even out their
// work). Without checkpointing every layer has a complete set (ActivationCheckpointing.swift).

import Kernels

/// The activations of one decoder layer that its backward reads.
final class LayerActivations: @unchecked Sendable {
    // Recomputable from the others and the layer input (shared by every layer when selective).
    let xn1: FloatBuffer    // [N, C]  rmsnorm(x_in): input of q, k, v
    let q: FloatBuffer      // [N, QL] after RoPE
    let qRaw: FloatBuffer   // [N, QL] q_proj's output before the q norm (q/k-norm families, else empty)
    let qRstd: FloatBuffer  // [N, H_local] the q norm's statistics (q/k-norm families)
    let att: FloatBuffer    // [N, QL] attention output: input of o_proj
    let xn2: FloatBuffer    // [N, C]  rmsnorm(xMid): input of gate, up
    let h: FloatBuffer      // [N, FL] silu(gate)·up: input of down_proj
    let up: FloatBuffer     // [N, FL] up_proj(xn2)
    // GEMM outputs and statistics, always the layer's own.
    let rstd1: FloatBuffer  // [N]
    let k: FloatBuffer      // [N, KL] after RoPE
    let kRaw: FloatBuffer   // [N, KL] k_proj's output before the k norm (q/k-norm families, else empty)
    let kRstd: FloatBuffer  // [N, G_local] the k norm's statistics (q/k-norm families)
    let v: FloatBuffer      // [N, KL]
    let xMid: FloatBuffer   // [N, C]  x_in + o_proj(att): input of the MLP half
    let rstd2: FloatBuffer  // [N]
    let gate: FloatBuffer   // [N, FL] before SiLU
    let u: FloatBuffer      // [7, N, r] LoRA bottleneck drop(x)·Aᵀ of each module (PEFT order)
    // Sandwich-norm families (Gemma 3), else empty: o_proj's and down_proj's outputs, the inputs
    // of the norms after attention and after the MLP, and those norms' statistics.
    let attentionOut: FloatBuffer  // [N, C]
    let mlpOut: FloatBuffer        // [N, C]
    let rstd3: FloatBuffer         // [N]
    let rstd4: FloatBuffer         // [N]

    /// A complete set, or one whose recomputable buffers are `recomputable`'s (selective), all
    /// but q (with its pre-norm values and statistics) when `ownQuery`.
    init(_ s: TrainingWorkspace.Sizes, sharing recomputable: LayerActivations? = nil, ownQuery: Bool = false) {
        xn1 = recomputable?.xn1 ?? FloatBuffer(count: s.n * s.c)
        let shared = ownQuery ? nil : recomputable
        q = shared?.q ?? FloatBuffer(count: s.n * s.queryLocal)
        qRaw = shared?.qRaw ?? FloatBuffer(count: s.qkNorm * s.n * s.queryLocal)
        qRstd = shared?.qRstd ?? FloatBuffer(count: s.qkNorm * s.n * s.queryHeadsLocal)
        att = recomputable?.att ?? FloatBuffer(count: s.n * s.queryLocal)
        xn2 = recomputable?.xn2 ?? FloatBuffer(count: s.n * s.c)
        h = recomputable?.h ?? FloatBuffer(count: s.n * s.ffnLocal)
        up = recomputable?.up ?? FloatBuffer(count: s.n * s.ffnLocal)
        rstd1 = FloatBuffer(count: s.n)
        k = FloatBuffer(count: s.n * s.keyValueLocal)
        kRaw = FloatBuffer(count: s.qkNorm * s.n * s.keyValueLocal)
        kRstd = FloatBuffer(count: s.qkNorm * s.n * s.keyValueHeadsLocal)
        v = FloatBuffer(count: s.n * s.keyValueLocal)
        xMid = FloatBuffer(count: s.n * s.c)
        rstd2 = FloatBuffer(count: s.n)
        gate = FloatBuffer(count: s.n * s.ffnLocal)
        u = FloatBuffer(count: LinearModule.allCases.count * s.n * s.rank)
        attentionOut = FloatBuffer(count: s.sandwich * s.n * s.c)
        mlpOut = FloatBuffer(count: s.sandwich * s.n * s.c)
        rstd3 = FloatBuffer(count: s.sandwich * s.n)
        rstd4 = FloatBuffer(count: s.sandwich * s.n)
    }

    /// Floats of the recomputable buffers (xn1, q, att, xn2, h, up; qRaw, qRstd with q/k norm).
    static func recomputableFloatCount(_ s: TrainingWorkspace.Sizes) -> Int {
        s.n * (2 * s.c + 2 * s.queryLocal + 2 * s.ffnLocal) + queryFloatCount(s) - s.n * s.queryLocal
    }

    /// Floats of q and what its norm's backward reads (qRaw, qRstd with q/k norm).
    static func queryFloatCount(_ s: TrainingWorkspace.Sizes) -> Int {
        s.n * (s.queryLocal + s.qkNorm * (s.queryLocal + s.queryHeadsLocal))
    }

    /// Floats a layer keeps of its own (everything but the recomputable buffers).
    static func keptFloatCount(_ s: TrainingWorkspace.Sizes) -> Int {
        s.n * (s.c + 2 + 2 * s.keyValueLocal + s.ffnLocal
               + LinearModule.allCases.count * s.rank + s.qkNorm * (s.keyValueLocal + s.keyValueHeadsLocal)
               + s.sandwich * (2 * s.c + 2))
    }

    /// The `[N, r]` bottleneck slot of `module`.
    func bottleneck(_ module: LinearModule) -> UnsafeMutablePointer<Float> {
        u.pointer + module.order * (u.count / LinearModule.allCases.count)
    }
}

/// Reusable buffers of `Llama.trainStep` and `Llama.evaluateLoss` for one shard.
public final class TrainingWorkspace: @unchecked Sendable {
    /// Sizes every buffer derives from (one place, used by `byteCount` too).
    struct Sizes: Sendable {
        let n, layers, c, queryLocal, keyValueLocal, ffnLocal, vocabLocal, rank, weightScratch: Int
        /// KV head hand-overs with other ranks (`LlamaShard.keyValueTransfers`) and the head dim.
        let transfers, headDim: Int
        /// Width of the LoRA dropout buffers: the widest input, 0 without dropout.
        let dropoutWidth: Int
        /// 1 when the family normalises each head of q and k (the pre-norm values and statistics
        /// are kept for the backward), else 0.
        let qkNorm: Int
        /// 1 when each layer has four norms (the post-norms' inputs and statistics are kept), else 0.
        let sandwich: Int
        var queryHeadsLocal: Int { queryLocal / max(headDim, 1) }
        var keyValueHeadsLocal: Int { keyValueLocal / max(headDim, 1) }
        /// Forward only (evaluation, generation): no gradient buffers, two residual slots.
        let inference: Bool
        /// Keys one query may attend: `n`, or a KV cache's capacity (inference).
        let maxKeys: Int
        var inputMax: Int { max(c, queryLocal, ffnLocal) }
        /// Rows of one logits chunk: the training head's budget, or `logitChunkRows` for a
        /// forward alone (the eval head's smaller scratch, as before the paths were one).
        var logitRows: Int {
            inference ? max(1, min(n, Llama.logitChunkRows)) : Llama.trainingLogitRows(tokens: n, vocabLocal: vocabLocal)
        }
        /// Residual stream slots: every layer's input for the backward, or the current layer's
        /// input and output for a forward alone.
        var residualSlots: Int { inference ? 2 : layers + 1 }
        /// Forward probabilities `[Q, S]` and the backward's two tiles share one scratch.
        var attentionScratch: Int {
            inference ? min(n, Llama.attentionQueryRows) * maxKeys : Attention.backwardScratchCount(queries: n, past: 0)
        }

        init(config: LlamaConfig, shard: LlamaShard, maxTokens: Int, maxLoRARank: Int, loraDropout: Bool,
             weightScratch: Int, inferenceKeys: Int? = nil) {
            n = maxTokens
            layers = config.numHiddenLayers
            c = config.hiddenSize
            queryLocal = shard.queryWidthLocal
            keyValueLocal = shard.keyValueWidthLocal
            ffnLocal = shard.ffnColumns.count
            vocabLocal = shard.vocabRows.count
            rank = maxLoRARank
            self.weightScratch = weightScratch
            transfers = shard.keyValueTransfers.count
            headDim = shard.headDim
            dropoutWidth = loraDropout && inferenceKeys == nil ? max(c, queryLocal, ffnLocal) : 0
            qkNorm = config.architecture.qkNorm == .rmsPerHead ? 1 : 0
            sandwich = config.architecture.layerNorms == .sandwich ? 1 : 0
            inference = inferenceKeys != nil
            maxKeys = max(inferenceKeys ?? maxTokens, maxTokens)
        }

        /// Floats of each gradient buffer's row (0 for inference).
        private var g: Int { inference ? 0 : 1 }

        /// Floats of everything but the layer activations.
        var sharedFloats: Int {
            residualSlots * n * c                                 // residuals
                + n * c + n                                       // finalNormed, finalRstd
                + n * c                                           // projection
                + g * 2 * n * c                                   // dResidual, dNormed
                + g * (2 * n * queryLocal + 2 * n * keyValueLocal) // dAtt, dq, dk, dv
                + g * 2 * n * ffnLocal                            // dh, dUp
                + 2 * n * dropoutWidth + g * n * rank             // loraInput, loraDx, du
                + attentionScratch + weightScratch
                + logitRows * vocabLocal + 3 * logitRows          // logits, lossStats
                + transfers * 2 * n * headDim                     // keyValueMessages
        }

        func bytes(checkpointing: ActivationCheckpointing, keepsQuery: Bool) -> Int {
            let complete = LayerActivations.recomputableFloatCount(self) + LayerActivations.keptFloatCount(self)
            let activations = switch checkpointing {
            case .full: complete
            case .selective: LayerActivations.recomputableFloatCount(self) + layers * LayerActivations.keptFloatCount(self)
                + (keepsQuery ? max(layers - 1, 0) * LayerActivations.queryFloatCount(self) : 0)
            case .none: layers * complete
            }
            let floats = sharedFloats + activations
            return floats * MemoryLayout<Float>.stride
                + n * (2 * MemoryLayout<Int>.stride + MemoryLayout<UInt64>.stride)  // positions, targets, tokenKeys
        }
    }

    public let config: LlamaConfig
    public let shard: LlamaShard
    /// Tokens one micro-batch may hold (all its packed sequences together).
    public let maxTokens: Int
    /// Largest LoRA rank the step accepts.
    public let maxLoRARank: Int
    /// What the backward recomputes (ActivationCheckpointing.swift).
    public let checkpointing: ActivationCheckpointing
    /// Selective checkpointing keeps every layer's q (the backward does not recompute it).
    public let keepsQuery: Bool
    /// Built for the forward alone (`init(inferenceFor:)`): no backward runs on it.
    public var isInference: Bool { sizes.inference }
    /// Keys one query may attend (a KV cache's capacity for generation).
    public var maxKeys: Int { sizes.maxKeys }
    let sizes: Sizes

    let residuals: FloatBuffer      // [L+1, N, C] input of layer l at slot l; slot L = last output
                                    // (inference: [2, N, C], layer l reads slot l mod 2)
    let layers: [LayerActivations]  // 1 (full checkpointing) or L
    let finalNormed: FloatBuffer    // [N, C] rmsnorm of the last residual: input of the head
    let finalRstd: FloatBuffer      // [N]
    let projection: FloatBuffer     // [N, C] row-parallel output before the residual add
    let dResidual: FloatBuffer      // [N, C] gradient of the residual stream
    let dNormed: FloatBuffer        // [N, C] gradient of an RMSNorm output, then of its input
    let dAtt: FloatBuffer           // [N, QL]
    let dq: FloatBuffer             // [N, QL]
    let dk: FloatBuffer             // [N, KL]
    let dv: FloatBuffer             // [N, KL]
    let dh: FloatBuffer             // [N, FL] gradient of h, then of gate (in place)
    let dUp: FloatBuffer            // [N, FL]
    let loraInput: FloatBuffer      // [N, I] drop(x) of the LoRA branch (empty without dropout)
    let loraDx: FloatBuffer         // [N, I] du·A before the dropout mask (empty without dropout)
    let du: FloatBuffer             // [N, r]
    let attentionScratch: FloatBuffer // [2, Q, N] (inference: [Q, S] forward probabilities)
    let weightScratch: FloatBuffer  // [R, I_w]
    let logits: FloatBuffer         // [K, VL] logits, then dlogits, of one chunk
    let lossStats: FloatBuffer      // [3, K] row max, then (Σexp, target logit) fused for one allReduce
    /// [T, 2, N, D] per KV head transfer: its k and v (forward), then its partial dk and dv (backward).
    let keyValueMessages: FloatBuffer
    /// [T] the group's handle of each transfer in flight.
    let transferHandles: UnsafeMutablePointer<Int>
    let positions: UnsafeMutablePointer<Int>    // [N]
    let targets: UnsafeMutablePointer<Int>      // [N]
    let tokenKeys: UnsafeMutablePointer<UInt64> // [N] dropout hash key per token

    /// Buffers for `model`'s slice `shard`, at most `maxTokens` tokens per step and LoRA rank
    /// `maxLoRARank` (0 for loss-only use).
    /// `loraDropout: false` leaves out the dropout buffers (`[N, I]` twice) when no adapter of
    /// the run uses `lora_dropout`; a step with dropout then refuses the workspace.
    /// `keepQuery` (selective checkpointing only; ignored otherwise) keeps each layer's q:
    /// `(L - 1)·N·QL` more floats, one q GEMM less per layer in the backward.
    public convenience init(model: Llama, shard: LlamaShard, maxTokens: Int, maxLoRARank: Int,
                            checkpointing: ActivationCheckpointing = .full, keepQuery: Bool = false,
                            loraDropout: Bool = true) {
        self.init(config: model.config, shard: shard, maxTokens: maxTokens, maxLoRARank: maxLoRARank,
                  checkpointing: checkpointing, keepQuery: keepQuery, loraDropout: loraDropout,
                  weightScratchCount: model.weights.linearScratchCount)
    }

    /// Buffers from sizes alone; `weightScratchCount` is the largest `FrozenMatrix.scratchCount`
    /// of the shard's weights (`LlamaWeights.linearScratchCount`).
    public convenience init(config: LlamaConfig, shard: LlamaShard, maxTokens: Int, maxLoRARank: Int,
                            checkpointing: ActivationCheckpointing = .full, keepQuery: Bool = false, loraDropout: Bool = true,
                            weightScratchCount: Int) {
        self.init(sizes: Sizes(config: config, shard: shard, maxTokens: maxTokens, maxLoRARank: maxLoRARank,
                               loraDropout: loraDropout, weightScratch: weightScratchCount),
                  config: config, shard: shard, checkpointing: checkpointing, keepQuery: keepQuery)
    }

    /// Buffers of the forward alone (evaluation, generation): the same layer code as training,
    /// without gradient buffers, with two residual slots instead of `L + 1`, and an attention
    /// scratch for `maxKeys` keys (a KV cache's capacity; at least `maxTokens`). Adapters of rank
    /// up to `maxLoRARank` may be applied (no dropout).
    public convenience init(inferenceFor model: Llama, shard: LlamaShard, maxTokens: Int, maxKeys: Int? = nil,
                            maxLoRARank: Int = 0) {
        self.init(sizes: Sizes(config: model.config, shard: shard, maxTokens: maxTokens, maxLoRARank: maxLoRARank,
                               loraDropout: false, weightScratch: model.weights.linearScratchCount,
                               inferenceKeys: maxKeys ?? maxTokens),
                  config: model.config, shard: shard, checkpointing: .full, keepQuery: false)
    }

    private init(sizes s: Sizes, config: LlamaConfig, shard: LlamaShard, checkpointing: ActivationCheckpointing,
                 keepQuery: Bool) {
        let maxTokens = s.n, maxLoRARank = s.rank
        precondition(maxTokens > 0 && maxLoRARank >= 0 && s.weightScratch >= 0, "TrainingWorkspace: bad sizes")
        self.config = config
        self.shard = shard
        self.maxTokens = maxTokens
        self.maxLoRARank = maxLoRARank
        self.checkpointing = checkpointing
        let keepsQuery = keepQuery && checkpointing == .selective
        self.keepsQuery = keepsQuery
        sizes = s
        let n = s.n
        residuals = FloatBuffer(count: s.residualSlots * n * s.c)
        switch checkpointing {
        case .full: layers = [LayerActivations(s)]
        case .selective:
            let first = LayerActivations(s)
            layers = [first] + (0..<max(s.layers - 1, 0)).map { _ in
                LayerActivations(s, sharing: first, ownQuery: keepsQuery)
            }
        case .none: layers = (0..<s.layers).map { _ in LayerActivations(s) }
        }
        finalNormed = FloatBuffer(count: n * s.c)
        finalRstd = FloatBuffer(count: n)
        projection = FloatBuffer(count: n * s.c)
        let g = s.inference ? 0 : n   // rows of each gradient buffer
        dResidual = FloatBuffer(count: g * s.c)
        dNormed = FloatBuffer(count: g * s.c)
        dAtt = FloatBuffer(count: g * s.queryLocal)
        dq = FloatBuffer(count: g * s.queryLocal)
        dk = FloatBuffer(count: g * s.keyValueLocal)
        dv = FloatBuffer(count: g * s.keyValueLocal)
        dh = FloatBuffer(count: g * s.ffnLocal)
        dUp = FloatBuffer(count: g * s.ffnLocal)
        loraInput = FloatBuffer(count: n * s.dropoutWidth)
        loraDx = FloatBuffer(count: n * s.dropoutWidth)
        du = FloatBuffer(count: g * s.rank)
        attentionScratch = FloatBuffer(count: s.attentionScratch)
        weightScratch = FloatBuffer(count: s.weightScratch)
        logits = FloatBuffer(count: s.logitRows * s.vocabLocal)
        lossStats = FloatBuffer(count: 3 * s.logitRows)
        keyValueMessages = FloatBuffer(count: s.transfers * 2 * n * s.headDim)
        transferHandles = .allocate(capacity: max(s.transfers, 1))
        transferHandles.initialize(repeating: -1, count: max(s.transfers, 1))
        positions = .allocate(capacity: n)
        positions.initialize(repeating: 0, count: n)
        targets = .allocate(capacity: n)
        targets.initialize(repeating: 0, count: n)
        tokenKeys = .allocate(capacity: n)
        tokenKeys.initialize(repeating: 0, count: n)
    }

    deinit {
        transferHandles.deallocate()
        positions.deallocate()
        targets.deallocate()
        tokenKeys.deallocate()
    }

    /// Input of layer `l` (`l == L`: output of the last layer), `[N, C]`.
    func residual(_ l: Int) -> UnsafeMutablePointer<Float> {
        residuals.pointer + (l % sizes.residualSlots) * maxTokens * config.hiddenSize
    }

    /// Bytes this workspace holds (equals `byteCount` for its configuration).
    public var byteCount: Int { sizes.bytes(checkpointing: checkpointing, keepsQuery: keepsQuery) }

    /// Bytes of a workspace for a configuration (docs/architecture.md §9: the activation part of a
    /// rank's budget): `(L+1)·N·C` residuals plus one layer's activations (full checkpointing),
    /// every layer's GEMM outputs and one set of the rest (selective), or every layer's (none);
    /// plus gradient buffers, one logits chunk `[K, V_local]`, the attention
    /// scratch and one dequantized weight tile. `weightScratchCount` defaults to the tile a
    /// `FrozenMatrix` of this shard's widest matrix uses.
    public static func byteCount(config: LlamaConfig, shard: LlamaShard, maxTokens: Int, maxLoRARank: Int,
                                 checkpointing: ActivationCheckpointing = .full, keepQuery: Bool = false,
                                 loraDropout: Bool = true, weightScratchCount: Int? = nil) -> Int {
        let scratch = weightScratchCount ?? estimatedWeightScratch(config: config, shard: shard)
        return Sizes(config: config, shard: shard, maxTokens: maxTokens, maxLoRARank: maxLoRARank,
                     loraDropout: loraDropout, weightScratch: scratch)
            .bytes(checkpointing: checkpointing, keepsQuery: keepQuery && checkpointing == .selective)
    }

    /// `FrozenMatrix.scratchCount` (`tileRows · columns`) of the largest local matrix.
    static func estimatedWeightScratch(config: LlamaConfig, shard: LlamaShard) -> Int {
        func tile(_ rows: Int, _ columns: Int) -> Int {
            guard rows > 0, columns > 0 else { return 0 }
            return FrozenMatrix.tileRows(rows: rows, columns: columns) * columns
        }
        let c = config.hiddenSize
        var widest = tile(shard.vocabRows.count, c)
        for module in LinearModule.allCases {
            let (i, o) = shard.localFeatures(module, config)
            widest = max(widest, tile(o, i))
        }
        return widest
    }
}
