// One training micro-step on one tensor-parallel rank (docs/architecture.md §4): forward with LoRA,
// chunked vocab-parallel loss, backward, LoRA gradients accumulated (+=). A group of one runs the
// same code with no-op collectives. Also the loss alone over the same path (evaluation on a sharded
// model). Implementation: Llama+Forward.swift, Llama+Backward.swift,
// Llama+VocabParallelLoss.swift, LoRALinear.swift; buffers: TrainingWorkspace.swift.
// Legend: N = tokens of the micro-batch (all packed sequences), V = vocabulary.
//
// Gradient placement after a step (what the trainer must still reduce over the TP group):
// column-parallel (q, k, v, gate, up) gradA is a PARTIAL sum over the TP ranks, to allReduce
// once per optimizer step (`allReduceTensorParallelPartialGradients`), and so are the k/v gradB
// rows of a KV head two ranks share (each saw only its own query heads' share of dk, dv); every
// other LoRA gradient is exact on its rank (column gradB and row gradA sliced, row gradB
// replicated).

import Kernels
import ProcessGroups

extension Llama {
    /// Forward, loss and backward of one micro-batch; LoRA gradients are ACCUMULATED into the
    /// adapters' `gradA`/`gradB` as `d(Σ counted token losses · lossScale)/dθ`.
    ///
    /// - Parameters:
    ///   - ids: `[N]`, the packed token ids of every sequence, in `0..<V`.
    ///   - labels: `[N]`, HF convention (unshifted): the target of token `i` is `labels[i + 1]`
    ///     within its segment (the last token of a segment has none); `-100` is not counted.
    ///   - segments: consecutive ranges covering `0..<N`, one per packed document; attention
    ///     never crosses a segment.
    ///   - positions: `[N]` RoPE positions; nil restarts at 0 in every segment.
    ///   - shard: what this rank holds; the model's weights must be exactly that slice.
    ///   - group: the tensor-parallel group (`SingleRankGroup()` for one rank).
    ///   - adapters: the LoRA factors of this rank; nil computes the loss only (no backward).
    ///   - lossScale: `1 / (counted targets of the whole optimizer step, over all micro-batches
    ///     and data-parallel ranks)` so accumulation and data parallelism average correctly.
    ///   - dropout: the key of the LoRA dropout masks (ignored where `lora_dropout` is 0).
    ///   - workspace: built for this model's config and `shard`, `maxTokens ≥ N`,
    ///     `maxLoRARank ≥` the adapters' rank.
    ///   - layerGradientsReady: called with `l` (from the last layer down) once layer `l`'s LoRA
    ///     gradients are final for this micro-batch, e.g. to start their data-parallel reduction
    ///     while earlier layers are still in the backward (docs/architecture.md §6).
    /// - Returns: the sum of the counted token losses (fp64) and how many were counted.
    public func trainStep(ids: [Int], labels: [Int], segments: [Range<Int>], positions: [Int]? = nil,
                          shard: LlamaShard, group: ProcessGroup, adapters: LowRankAdapters?,
                          lossScale: Float, dropout: LoRADropoutKey = LoRADropoutKey(),
                          workspace: TrainingWorkspace,
                          layerGradientsReady: ((_ layer: Int) throws -> Void)? = nil) throws -> (lossSum: Double, counted: Int) {
        try run(ids: ids, labels: labels, segments: segments, positions: positions, shard: shard, group: group,
                adapters: adapters, lossScale: lossScale, training: true, dropout: dropout, workspace: workspace,
                layerDone: layerGradientsReady)
    }

    /// The loss alone over the training forward (any shard, adapters applied without dropout):
    /// evaluation on a sharded model. Same arguments as `trainStep`; no gradient is touched.
    public func evaluateLoss(ids: [Int], labels: [Int], segments: [Range<Int>], positions: [Int]? = nil,
                             shard: LlamaShard, group: ProcessGroup, adapters: LowRankAdapters? = nil,
                             workspace: TrainingWorkspace) throws -> (lossSum: Double, counted: Int) {
        try run(ids: ids, labels: labels, segments: segments, positions: positions, shard: shard, group: group,
                adapters: adapters, lossScale: 0, training: false, dropout: LoRADropoutKey(), workspace: workspace,
                layerDone: nil)
    }

    /// AllReduces over the TP group the gradients a step leaves partial: `gradA` of every
    /// column-parallel module (q, k, v, gate, up), and `gradB` of k and v (placed at the rows
    /// this shard holds in a zeroed full-size buffer, so rows of a KV head held by two ranks
    /// add up and the others pass through exactly). Call once per optimizer step, after the
    /// last micro-batch and before data-parallel averaging and clipping. A no-op for a group
    /// of one. (The trainer's `GradientSynchronizer` does the same without allocating.)
    public func allReduceTensorParallelPartialGradients(adapters: LowRankAdapters, shard: LlamaShard,
                                                        group: ProcessGroup) throws {
        guard group.size > 1 else { return }
        var reducedA = Set<UnsafeMutablePointer<Float>>()   // a fused module's parts share one A
        for l in 0..<config.numHiddenLayers {
            for module in LinearModule.allCases {
                guard let f = adapters.factors(layer: l, module: module) else { continue }
                if module.loraGradientAIsTensorParallelPartial, reducedA.insert(f.gradA).inserted {
                    try group.allReduceSum(f.gradA, count: f.rank * shard.localFeatures(module, config).inFeatures)
                }
                if module == .kProj || module == .vProj {
                    let rows = shard.keyValueRows
                    var full = [Float](repeating: 0, count: config.numKeyValueHeads * config.headDim * f.rank)
                    try full.withUnsafeMutableBufferPointer { buffer in
                        guard let base = buffer.baseAddress else { return }
                        (base + rows.lowerBound * f.rank).update(from: f.gradB, count: rows.count * f.rank)
                        try group.allReduceSum(base, count: buffer.count)
                        f.gradB.update(from: base + rows.lowerBound * f.rank, count: rows.count * f.rank)
                    }
                }
            }
        }
    }

    private func run(ids: [Int], labels: [Int], segments: [Range<Int>], positions: [Int]?, shard: LlamaShard,
                     group: ProcessGroup, adapters: LowRankAdapters?, lossScale: Float, training: Bool,
                     dropout: LoRADropoutKey, workspace ws: TrainingWorkspace,
                     layerDone: ((_ layer: Int) throws -> Void)?) throws -> (lossSum: Double, counted: Int) {
        let n = ids.count
        try checkStep(tokens: n, labels: labels, segments: segments, positions: positions, shard: shard,
                      adapters: adapters, dropout: dropout, workspace: ws)
        try validate(ids: ids)
        let backward = training && adapters != nil
        if backward && ws.isInference {
            throw LlamaModelError.invalidInput("the workspace was built for inference (no gradient buffers); a training step needs TrainingWorkspace(model:shard:maxTokens:maxLoRARank:)")
        }
        // Positions, shifted targets (never across a segment) and dropout keys per token.
        for (s, segment) in segments.enumerated() {
            let sample = dropout.sampleIndices?[s] ?? s
            for i in segment {
                let p = i - segment.lowerBound
                ws.positions[i] = positions?[i] ?? p
                let target = i + 1 < segment.upperBound ? labels[i + 1] : CrossEntropy.ignoreIndex
                guard target == CrossEntropy.ignoreIndex || (0..<config.vocabSize).contains(target) else {
                    throw LlamaModelError.invalidInput("label \(target) at index \(i + 1) is outside the vocabulary 0..<\(config.vocabSize) (use -100 to skip a token)")
                }
                ws.targets[i] = target
                ws.tokenKeys[i] = DropoutMask.tokenKey(seed: dropout.seed, step: dropout.step, sample: sample, position: p)
            }
        }
        for i in 0..<n where ws.positions[i] < 0 || ws.positions[i] >= maxPositions {
            throw LlamaModelError.invalidInput("position \(ws.positions[i]) of token \(i) is outside the model's \(maxPositions) positions")
        }
        let ctx = PassContext(tokens: n, segments: segments, shard: shard, group: group, adapters: adapters,
                              training: training, workspace: ws, longContext: usesLongRoPE(positions: ws.positions, count: n))
        try ids.withUnsafeBufferPointer { idp in
            guard let base = idp.baseAddress else { return }
            try forward(ids: base, ctx)
        }
        let result = try vocabParallelLoss(ctx, lossScale: lossScale, backward: backward)
        if backward { try self.backward(ctx, layerDone: layerDone) }
        return result
    }

    /// Checks the step's shapes against the workspace, the shard and the weights.
    private func checkStep(tokens n: Int, labels: [Int], segments: [Range<Int>], positions: [Int]?, shard: LlamaShard,
                           adapters: LowRankAdapters?, dropout: LoRADropoutKey, workspace ws: TrainingWorkspace) throws {
        guard n > 0 else { throw LlamaModelError.invalidInput("a training step needs at least one token") }
        guard n <= ws.maxTokens else {
            throw LlamaModelError.invalidInput("\(n) tokens exceed the training workspace's \(ws.maxTokens); build it with a larger maxTokens")
        }
        guard labels.count == n else { throw LlamaModelError.invalidInput("\(labels.count) labels for \(n) tokens") }
        if let positions, positions.count != n {
            throw LlamaModelError.invalidInput("\(positions.count) positions for \(n) tokens")
        }
        var next = 0
        for segment in segments {
            guard segment.lowerBound == next, !segment.isEmpty else {
                throw LlamaModelError.invalidInput("segments must be non-empty, consecutive and start at 0; got \(segments)")
            }
            if let window = config.unappliedWindow, segment.count > window {
                throw LlamaModelError.invalidInput("a segment of \(segment.count) tokens exceeds sliding_window \(window), which this family applies only to some layers (not implemented)")
            }
            next = segment.upperBound
        }
        guard next == n else { throw LlamaModelError.invalidInput("segments cover 0..<\(next), expected 0..<\(n)") }
        if let samples = dropout.sampleIndices, samples.count != segments.count {
            throw LlamaModelError.invalidInput("\(samples.count) dropout sample indices for \(segments.count) segments")
        }
        guard ws.config == config, ws.shard == shard else {
            throw LlamaModelError.invalidInput("the training workspace was built for another model or shard (\(ws.shard))")
        }
        try checkShard(shard)
        guard let adapters else { return }
        for l in 0..<config.numHiddenLayers {
            for module in LinearModule.allCases {
                guard let f = adapters.factors(layer: l, module: module) else { continue }
                guard f.rank > 0, f.rank <= ws.maxLoRARank else {
                    throw LlamaModelError.invalidInput("LoRA rank \(f.rank) of \(module.fullName(layer: l)) exceeds the training workspace's maxLoRARank \(ws.maxLoRARank)")
                }
                guard f.dropout >= 0, f.dropout < 1 else {
                    throw LlamaModelError.invalidInput("LoRA dropout \(f.dropout) of \(module.fullName(layer: l)) is outside [0, 1)")
                }
                guard f.dropout == 0 || ws.sizes.dropoutWidth > 0 else {
                    throw LlamaModelError.invalidInput("\(module.fullName(layer: l)) uses LoRA dropout \(f.dropout), but the training workspace was built with loraDropout: false")
                }
            }
        }
    }

    /// The weights must be exactly `shard`'s slice.
    private func checkShard(_ shard: LlamaShard) throws {
        let c = config.hiddenSize
        guard shard.headDim == config.headDim, shard.queryHeads.upperBound <= config.numAttentionHeads,
              shard.queriesPerKVHead * config.numKeyValueHeads == config.numAttentionHeads,
              !shard.queryHeads.isEmpty, shard.queryHeads.lowerBound >= 0, !shard.ffnColumns.isEmpty, !shard.vocabRows.isEmpty,
              shard.ffnColumns.upperBound <= config.intermediateSize, shard.vocabRows.upperBound <= config.vocabSize else {
            throw LlamaModelError.invalidConfig("shard \(shard) does not fit the model")
        }
        var received = 0
        for transfer in shard.keyValueTransfers {
            guard shard.kvHeads.contains(transfer.kvHead), transfer.peer >= 0 else {
                throw LlamaModelError.invalidConfig("shard \(shard) hands over KV head \(transfer.kvHead) with rank \(transfer.peer), which it cannot")
            }
            if !transfer.sends { received += 1 }
        }
        guard received + shard.computedKVHeads.count == shard.kvHeads.count else {
            throw LlamaModelError.invalidConfig("shard \(shard) receives KV heads other than at the ends of its KV heads, or one twice")
        }
        func expect(_ m: FrozenMatrix, _ rows: Int, _ columns: Int) throws {
            guard m.rows == rows, m.columns == columns else {
                throw LlamaModelError.invalidWeights("'\(m.name)' is [\(m.rows), \(m.columns)], but shard \(shard) needs [\(rows), \(columns)]")
            }
        }
        try expect(weights.embedding, shard.vocabRows.count, c)
        try expect(weights.output, shard.vocabRows.count, c)
        guard weights.layers.count == config.numHiddenLayers else {
            throw LlamaModelError.invalidWeights("\(weights.layers.count) layers, config says \(config.numHiddenLayers)")
        }
        func expect(_ bias: FloatBuffer?, _ width: Int) throws {
            if let bias, bias.count != width {
                throw LlamaModelError.invalidWeights("a q/k/v bias holds \(bias.count) values, shard \(shard) needs \(width)")
            }
        }
        let qw = shard.queryWidthLocal, kvw = shard.keyValueWidthLocal, f = shard.ffnColumns.count
        for layer in weights.layers {
            try expect(layer.q, qw, c)
            try expect(layer.k, kvw, c)
            try expect(layer.v, kvw, c)
            try expect(layer.o, c, qw)
            try expect(layer.gate, f, c)
            try expect(layer.up, f, c)
            try expect(layer.down, c, f)
            try expect(layer.qBias, qw)
            try expect(layer.kBias, kvw)
            try expect(layer.vBias, kvw)
            guard (layer.qNorm != nil && layer.kNorm != nil) == (config.architecture.qkNorm == .rmsPerHead),
                  layer.qNorm.map({ $0.count == config.headDim }) ?? true, layer.kNorm.map({ $0.count == config.headDim }) ?? true else {
                throw LlamaModelError.invalidWeights("the q/k norm weights do not match \(config.modelType): \(config.architecture.qkNorm == .rmsPerHead ? "two [\(config.headDim)] vectors per layer expected" : "the family has none")")
            }
        }
    }
}
