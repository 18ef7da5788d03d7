// Every buffer one training step (forward with LoRA, vocab-parallel loss, backward) needs, sized
// once from (config, shard, max tokens per micro-batch, max LoRA rank) and reused: the step
// allocates nothing (DESIGN §7, STYLE habit 4).
// Legend: N = maxTokens, L = layers, C = hidden, QL = H_local·D, KL = G_local·D, FL = F_local,
// VL = V_local, r = max LoRA rank, I = widest local input of a linear (max(C, QL, FL)),
// K = logit chunk rows, Q = attention query block (64), R·I_w = one dequantized weight tile.
//
// Activation checkpointing (default): the residual stream entering every layer is kept
// ([L+1, N, C], the last slot is the output of the final layer) and ONE set of layer activations
// is reused: the backward recomputes each layer's forward from its kept input. Without
// checkpointing there is one set of layer activations per layer (faster, more memory).

import Kernels

/// The activations of one decoder layer that its backward reads.
final class LayerActivations: @unchecked Sendable {
    let xn1: FloatBuffer    // [N, C]  rmsnorm(x_in): input of q, k, v
    let rstd1: FloatBuffer  // [N]
    let q: FloatBuffer      // [N, QL] after RoPE
    let k: FloatBuffer      // [N, KL] after RoPE
    let v: FloatBuffer      // [N, KL]
    let att: FloatBuffer    // [N, QL] attention output: input of o_proj
    let xMid: FloatBuffer   // [N, C]  x_in + o_proj(att): input of the MLP half
    let xn2: FloatBuffer    // [N, C]  rmsnorm(xMid): input of gate, up
    let rstd2: FloatBuffer  // [N]
    let gate: FloatBuffer   // [N, FL] before SiLU
    let up: FloatBuffer     // [N, FL]
    let h: FloatBuffer      // [N, FL] silu(gate)·up: input of down_proj
    let u: FloatBuffer      // [7, N, r] LoRA bottleneck drop(x)·Aᵀ of each module (PEFT order)

    init(_ s: TrainingWorkspace.Sizes) {
        xn1 = FloatBuffer(count: s.n * s.c)
        rstd1 = FloatBuffer(count: s.n)
        q = FloatBuffer(count: s.n * s.queryLocal)
        k = FloatBuffer(count: s.n * s.keyValueLocal)
        v = FloatBuffer(count: s.n * s.keyValueLocal)
        att = FloatBuffer(count: s.n * s.queryLocal)
        xMid = FloatBuffer(count: s.n * s.c)
        xn2 = FloatBuffer(count: s.n * s.c)
        rstd2 = FloatBuffer(count: s.n)
        gate = FloatBuffer(count: s.n * s.ffnLocal)
        up = FloatBuffer(count: s.n * s.ffnLocal)
        h = FloatBuffer(count: s.n * s.ffnLocal)
        u = FloatBuffer(count: LinearModule.allCases.count * s.n * s.rank)
    }

    static func floatCount(_ s: TrainingWorkspace.Sizes) -> Int {
        s.n * (4 * s.c + 2 + 2 * s.queryLocal + 2 * s.keyValueLocal + 3 * s.ffnLocal
               + LinearModule.allCases.count * s.rank)
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
        var inputMax: Int { max(c, queryLocal, ffnLocal) }
        var logitRows: Int { min(n, Llama.logitChunkRows) }
        /// Forward probabilities `[Q, N]` and the backward's two tiles share one scratch.
        var attentionScratch: Int { Attention.backwardScratchCount(queries: n, past: 0) }

        init(config: LlamaConfig, shard: LlamaShard, maxTokens: Int, maxLoRARank: Int, weightScratch: Int) {
            n = maxTokens
            layers = config.numHiddenLayers
            c = config.hiddenSize
            queryLocal = shard.queryWidthLocal
            keyValueLocal = shard.keyValueWidthLocal
            ffnLocal = shard.ffnColumns.count
            vocabLocal = shard.vocabRows.count
            rank = maxLoRARank
            self.weightScratch = weightScratch
        }

        /// Floats of everything but the layer activations.
        var sharedFloats: Int {
            (layers + 1) * n * c                                  // residuals
                + n * c + n                                       // finalNormed, finalRstd
                + n * c                                           // projection
                + 2 * n * c                                       // dResidual, dNormed
                + 2 * n * queryLocal + 2 * n * keyValueLocal      // dAtt, dq, dk, dv
                + 2 * n * ffnLocal                                // dh, dUp
                + 2 * n * inputMax + n * rank                     // loraInput, loraDx, du
                + attentionScratch + weightScratch
                + logitRows * vocabLocal + 3 * logitRows          // logits, lossStats
        }

        func bytes(checkpointing: Bool) -> Int {
            let activationSets = checkpointing ? 1 : layers
            let floats = sharedFloats + activationSets * LayerActivations.floatCount(self)
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
    /// Keep only layer inputs and recompute each layer in the backward.
    public let checkpointing: Bool
    let sizes: Sizes

    let residuals: FloatBuffer      // [L+1, N, C] input of layer l at slot l; slot L = last output
    let layers: [LayerActivations]  // 1 (checkpointing) or L
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
    let loraInput: FloatBuffer      // [N, I] drop(x) of the LoRA branch
    let loraDx: FloatBuffer         // [N, I] du·A before the dropout mask
    let du: FloatBuffer             // [N, r]
    let attentionScratch: FloatBuffer // [2, Q, N]
    let weightScratch: FloatBuffer  // [R, I_w]
    let logits: FloatBuffer         // [K, VL] logits, then dlogits, of one chunk
    let lossStats: FloatBuffer      // [3, K] row max, then (Σexp, target logit) fused for one allReduce
    let positions: UnsafeMutablePointer<Int>    // [N]
    let targets: UnsafeMutablePointer<Int>      // [N]
    let tokenKeys: UnsafeMutablePointer<UInt64> // [N] dropout hash key per token

    /// Buffers for `model`'s slice `shard`, at most `maxTokens` tokens per step and LoRA rank
    /// `maxLoRARank` (0 for loss-only use).
    public convenience init(model: Llama, shard: LlamaShard, maxTokens: Int, maxLoRARank: Int,
                            checkpointing: Bool = true) {
        self.init(config: model.config, shard: shard, maxTokens: maxTokens, maxLoRARank: maxLoRARank,
                  checkpointing: checkpointing, weightScratchCount: model.weights.linearScratchCount)
    }

    /// Buffers from sizes alone; `weightScratchCount` is the largest `FrozenMatrix.scratchCount`
    /// of the shard's weights (`LlamaWeights.linearScratchCount`).
    public init(config: LlamaConfig, shard: LlamaShard, maxTokens: Int, maxLoRARank: Int,
                checkpointing: Bool = true, weightScratchCount: Int) {
        precondition(maxTokens > 0 && maxLoRARank >= 0 && weightScratchCount >= 0, "TrainingWorkspace: bad sizes")
        let s = Sizes(config: config, shard: shard, maxTokens: maxTokens, maxLoRARank: maxLoRARank,
                      weightScratch: weightScratchCount)
        self.config = config
        self.shard = shard
        self.maxTokens = maxTokens
        self.maxLoRARank = maxLoRARank
        self.checkpointing = checkpointing
        sizes = s
        let n = s.n
        residuals = FloatBuffer(count: (s.layers + 1) * n * s.c)
        layers = (0..<(checkpointing ? 1 : s.layers)).map { _ in LayerActivations(s) }
        finalNormed = FloatBuffer(count: n * s.c)
        finalRstd = FloatBuffer(count: n)
        projection = FloatBuffer(count: n * s.c)
        dResidual = FloatBuffer(count: n * s.c)
        dNormed = FloatBuffer(count: n * s.c)
        dAtt = FloatBuffer(count: n * s.queryLocal)
        dq = FloatBuffer(count: n * s.queryLocal)
        dk = FloatBuffer(count: n * s.keyValueLocal)
        dv = FloatBuffer(count: n * s.keyValueLocal)
        dh = FloatBuffer(count: n * s.ffnLocal)
        dUp = FloatBuffer(count: n * s.ffnLocal)
        loraInput = FloatBuffer(count: n * s.inputMax)
        loraDx = FloatBuffer(count: n * s.inputMax)
        du = FloatBuffer(count: n * s.rank)
        attentionScratch = FloatBuffer(count: s.attentionScratch)
        weightScratch = FloatBuffer(count: s.weightScratch)
        logits = FloatBuffer(count: s.logitRows * s.vocabLocal)
        lossStats = FloatBuffer(count: 3 * s.logitRows)
        positions = .allocate(capacity: n)
        positions.initialize(repeating: 0, count: n)
        targets = .allocate(capacity: n)
        targets.initialize(repeating: 0, count: n)
        tokenKeys = .allocate(capacity: n)
        tokenKeys.initialize(repeating: 0, count: n)
    }

    deinit {
        positions.deallocate()
        targets.deallocate()
        tokenKeys.deallocate()
    }

    /// Bytes this workspace holds (equals `byteCount` for its configuration).
    public var byteCount: Int { sizes.bytes(checkpointing: checkpointing) }

    /// Bytes of a workspace for a configuration (DESIGN §7: the activation part of a rank's
    /// budget): with checkpointing `(L+1)·N·C` residuals plus one layer's activations, without it
    /// every layer's; plus gradient buffers, one logits chunk `[K, V_local]`, the attention
    /// scratch and one dequantized weight tile. `weightScratchCount` defaults to the tile a
    /// `FrozenMatrix` of this shard's widest matrix uses.
    public static func byteCount(config: LlamaConfig, shard: LlamaShard, maxTokens: Int, maxLoRARank: Int,
                                 checkpointing: Bool = true, weightScratchCount: Int? = nil) -> Int {
        let scratch = weightScratchCount ?? estimatedWeightScratch(config: config, shard: shard)
        return Sizes(config: config, shard: shard, maxTokens: maxTokens, maxLoRARank: maxLoRARank,
                     weightScratch: scratch).bytes(checkpointing: checkpointing)
    }

    /// `FrozenMatrix.scratchCount` (`tileRows · columns`) of the largest local matrix.
    static func estimatedWeightScratch(config: LlamaConfig, shard: LlamaShard) -> Int {
        func tile(_ rows: Int, _ columns: Int) -> Int {
            guard rows > 0, columns > 0 else { return 0 }
            return min(rows, max(16, min(256, (1 << 18) / columns))) * columns
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
