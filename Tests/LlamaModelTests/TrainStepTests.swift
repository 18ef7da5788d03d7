// The training step on a tiny random F32 model (group of one): loss equal to the eval forward,
// the inference workspace running the same layers,
// LoRA gradients against central finite differences for every module type (with and without
// dropout), checkpointing on = off, packed = separate, dropout determinism, workspace sizes;
// and the base loss of SmolLM2 against transformers through the training path.

import Foundation
import Kernels
import ProcessGroups
import Testing
import TestSupport
@testable import LlamaModel
@testable import ModelIO

/// LoRA factors for a test: every targeted module of every layer, random A and B.
final class TestLowRankAdapters: LowRankAdapters {
    struct Entry {
        let a: FloatBuffer, b: FloatBuffer, gradA: FloatBuffer, gradB: FloatBuffer
    }
    let rank: Int
    let scaling: Float
    let dropout: Float
    private(set) var entries: [Int: Entry] = [:]
    let layers: Int

    init(config: LlamaConfig, modules: [LinearModule] = LinearModule.allCases, rank: Int = 3, scaling: Float = 2,
         dropout: Float = 0, seed: UInt64 = 7) {
        self.rank = rank
        self.scaling = scaling
        self.dropout = dropout
        layers = config.numHiddenLayers
        var rng = RandomFloats(state: seed)
        for l in 0..<config.numHiddenLayers {
            for module in modules {
                let (i, o) = module.features(in: config)
                entries[l * 8 + module.order] = Entry(a: FloatBuffer(rng.values(rank * i, scale: 0.3)),
                                                      b: FloatBuffer(rng.values(o * rank, scale: 0.3)),
                                                      gradA: FloatBuffer(count: rank * i), gradB: FloatBuffer(count: o * rank))
            }
        }
    }

    func entry(_ layer: Int, _ module: LinearModule) -> Entry? { entries[layer * 8 + module.order] }

    func factors(layer: Int, module: LinearModule) -> LowRankFactors? {
        entry(layer, module).map {
            LowRankFactors(a: $0.a.pointer, b: $0.b.pointer, gradA: $0.gradA.pointer, gradB: $0.gradB.pointer,
                           rank: rank, scaling: scaling, dropout: dropout)
        }
    }

    func zeroGradients() {
        for e in entries.values { e.gradA.zero(); e.gradB.zero() }
    }

    /// Every gradient, in a fixed order.
    var gradients: [[Float]] {
        entries.keys.sorted().flatMap { [entries[$0]!.gradA.array, entries[$0]!.gradB.array] }
    }
}

private func randomIDs(_ count: Int, vocab: Int, seed: UInt64) -> [Int] {
    var rng = RandomFloats(state: seed)
    return (0..<count).map { _ in Int((rng.next() + 1) / 2 * Float(vocab - 1)) }
}

/// `max |a − b| / max(max |b|, tiny)` over all tensors.
private func maxRelativeDifference(_ a: [[Float]], _ b: [[Float]]) -> Float {
    var worst: Float = 0
    for (x, y) in zip(a, b) {
        let scale = max(y.map { abs($0) }.max() ?? 0, 1e-20)
        for (p, q) in zip(x, y) { worst = max(worst, abs(p - q) / scale) }
    }
    return worst
}

@Suite struct TrainStepTests {
    let config = tinyConfig()

    private func step(_ model: Llama, ids: [Int], segments: [Range<Int>]? = nil, adapters: LowRankAdapters?,
                      checkpointing: ActivationCheckpointing = .full, keepQuery: Bool = false,
                      dropout: LoRADropoutKey = LoRADropoutKey(),
                      lossScale: Float = 1) throws -> (lossSum: Double, counted: Int) {
        let ws = TrainingWorkspace(model: model, shard: .whole(model.config), maxTokens: ids.count, maxLoRARank: 4,
                                   checkpointing: checkpointing, keepQuery: keepQuery)
        return try model.trainStep(ids: ids, labels: ids, segments: segments ?? [0..<ids.count], shard: .whole(model.config),
                                   group: SingleRankGroup(), adapters: adapters, lossScale: lossScale, dropout: dropout,
                                   workspace: ws)
    }

    @Test func lossEqualsTheEvalForward() throws {
        let model = try tinyLlama()
        let a = randomIDs(23, vocab: config.vocabSize, seed: 3), b = randomIDs(70, vocab: config.vocabSize, seed: 4)
        let reference = try model.evaluate(sequences: [a, b])
        let ws = TrainingWorkspace(model: model, shard: .whole(config), maxTokens: 100, maxLoRARank: 0)
        let got = try model.evaluateLoss(ids: a + b, labels: a + b, segments: [0..<23, 23..<93], shard: .whole(config),
                                         group: SingleRankGroup(), workspace: ws)
        #expect(got.counted == reference.countedTargets)
        #expect(abs(got.lossSum - reference.lossSum) <= 1e-5 * abs(reference.lossSum), "\(got.lossSum) vs \(reference.lossSum)")
        // trainStep without adapters gives the same loss and touches nothing else.
        let trained = try step(model, ids: a + b, segments: [0..<23, 23..<93], adapters: nil)
        #expect(trained.lossSum == got.lossSum && trained.counted == got.counted)
    }

    @Test func reportsLayersAsTheirGradientsAreReady() throws {
        let model = try tinyLlama()
        let ids = randomIDs(10, vocab: config.vocabSize, seed: 61)
        let adapters = TestLowRankAdapters(config: config)
        let ws = TrainingWorkspace(model: model, shard: .whole(config), maxTokens: 10, maxLoRARank: 3)
        var seen: [Int] = []
        _ = try model.trainStep(ids: ids, labels: ids, segments: [0..<10], shard: .whole(config), group: SingleRankGroup(),
                                adapters: adapters, lossScale: 1, workspace: ws) { layer in
            // Layer 1 is final before layer 0's backward ran: layer 0's gradients are still zero.
            if layer == 1 { #expect(adapters.entry(0, .qProj)!.gradA.array.allSatisfy { $0 == 0 }) }
            seen.append(layer)
        }
        #expect(seen == [1, 0])
    }

    /// d(Σ losses)/dA and dB against central differences, a few elements of every module.
    @Test(arguments: [Float(0), 0.3])
    func gradientsMatchFiniteDifferences(dropout: Float) throws {
        let model = try tinyLlama(seed: 5)
        let ids = randomIDs(11, vocab: config.vocabSize, seed: 9)
        let key = LoRADropoutKey(seed: 42, step: 3)
        let adapters = TestLowRankAdapters(config: config, dropout: dropout)
        _ = try step(model, ids: ids, adapters: adapters, dropout: key)
        // Snapshot: every finite-difference step below accumulates into the gradients again.
        let analytic = adapters.entries.mapValues { ($0.gradA.array, $0.gradB.array) }
        var rng = RandomFloats(state: 11)
        for l in 0..<config.numHiddenLayers {
            for module in LinearModule.allCases {
                let e = try #require(adapters.entry(l, module))
                let g = try #require(analytic[l * 8 + module.order])
                for (param, grad) in [(e.a, g.0), (e.b, g.1)] {
                    for _ in 0..<3 {
                        let index = Int((rng.next() + 1) / 2 * Float(param.count - 1))
                        let saved = param[index], h: Float = 1e-2
                        param[index] = saved + h
                        let plus = try step(model, ids: ids, adapters: adapters, dropout: key).lossSum
                        param[index] = saved - h
                        let minus = try step(model, ids: ids, adapters: adapters, dropout: key).lossSum
                        param[index] = saved
                        let numeric = (plus - minus) / Double(2 * h)
                        let analytic = Double(grad[index])
                        #expect(abs(numeric - analytic) <= 2e-2 * max(abs(numeric), 0.1),
                                "layer \(l) \(module) \(param === e.a ? "A" : "B")[\(index)]: \(analytic) vs \(numeric)")
                    }
                }
            }
        }
    }

    /// Recomputation runs the forward's exact arithmetic, so every mode gives bit-identical
    /// losses and gradients: all seven modules adapted (selective then recomputes the attention
    /// output and h too), and a subset that leaves q, o and down without LoRA.
    @Test(arguments: [LinearModule.allCases, [.kProj, .upProj]])
    func checkpointingModesAgree(modules: [LinearModule]) throws {
        let model = try tinyLlama()
        let ids = randomIDs(40, vocab: config.vocabSize, seed: 21)
        let key = LoRADropoutKey(seed: 1, step: 2)
        var results: [(lossSum: Double, gradients: [[Float]])] = []
        // Every mode, and selective keeping q (what TP ranks with more query heads do).
        let modes = ActivationCheckpointing.allCases.map { ($0, false) } + [(.selective, true)]
        for (mode, keepQuery) in modes {
            let adapters = TestLowRankAdapters(config: config, modules: modules, rank: 4, dropout: 0.2)
            let r = try step(model, ids: ids, segments: [0..<15, 15..<40], adapters: adapters, checkpointing: mode,
                             keepQuery: keepQuery, dropout: key)
            results.append((r.lossSum, adapters.gradients))
        }
        for (mode, r) in zip(modes, results).dropFirst() {
            #expect(r.lossSum == results[0].lossSum, "\(mode)")
            #expect(r.gradients == results[0].gradients, "\(mode)")
        }
    }

    @Test func inferenceWorkspaceRunsTheSameForwardAndRefusesABackward() throws {
        let model = try tinyLlama()
        let shard = LlamaShard.whole(config)
        // 32 tokens: the head then runs as one chunk of rows in both workspaces (inference chunks
        // at 32 rows). The same rows in chunks of other heights need not give the same bits:
        // OpenBLAS's sgemm on Zen sums a row differently at other M (seen: 40 rows against 32 + 8).
        let ids = randomIDs(32, vocab: config.vocabSize, seed: 12)
        let adapters = TestLowRankAdapters(config: config)
        let training = TrainingWorkspace(model: model, shard: shard, maxTokens: 32, maxLoRARank: 3)
        let inference = TrainingWorkspace(inferenceFor: model, shard: shard, maxTokens: 32, maxLoRARank: 3)
        #expect(inference.isInference && !training.isInference)
        #expect(inference.byteCount < training.byteCount)
        // The same layer code: identical losses with an adapter applied.
        let a = try model.evaluateLoss(ids: ids, labels: ids, segments: [0..<15, 15..<32], shard: shard,
                                       group: SingleRankGroup(), adapters: adapters, workspace: training)
        let b = try model.evaluateLoss(ids: ids, labels: ids, segments: [0..<15, 15..<32], shard: shard,
                                       group: SingleRankGroup(), adapters: adapters, workspace: inference)
        #expect(a.lossSum == b.lossSum && a.counted == b.counted)
        #expect(throws: LlamaModelError.self) {
            try model.trainStep(ids: ids, labels: ids, segments: [0..<40], shard: shard, group: SingleRankGroup(),
                                adapters: adapters, lossScale: 1, workspace: inference)
        }
    }

    @Test func workspaceWithoutDropoutBuffersRefusesDropout() throws {
        let model = try tinyLlama()
        let shard = LlamaShard.whole(config)
        let lean = TrainingWorkspace(model: model, shard: shard, maxTokens: 20, maxLoRARank: 4, loraDropout: false)
        let full = TrainingWorkspace(model: model, shard: shard, maxTokens: 20, maxLoRARank: 4)
        let widestInput = max(config.hiddenSize, config.queryWidth, config.intermediateSize)
        #expect(lean.byteCount == full.byteCount - 2 * 20 * widestInput * 4)
        let ids = randomIDs(20, vocab: config.vocabSize, seed: 5)
        let plain = TestLowRankAdapters(config: config)
        _ = try model.trainStep(ids: ids, labels: ids, segments: [0..<20], shard: shard, group: SingleRankGroup(),
                                adapters: plain, lossScale: 1, workspace: lean)
        let dropped = TestLowRankAdapters(config: config, dropout: 0.1)
        #expect(throws: LlamaModelError.self) {
            try model.trainStep(ids: ids, labels: ids, segments: [0..<20], shard: shard, group: SingleRankGroup(),
                                adapters: dropped, lossScale: 1, dropout: LoRADropoutKey(seed: 1, step: 0), workspace: lean)
        }
    }

    @Test func packedEqualsSeparate() throws {
        let model = try tinyLlama()
        let a = randomIDs(13, vocab: config.vocabSize, seed: 31), b = randomIDs(70, vocab: config.vocabSize, seed: 32)
        let packed = TestLowRankAdapters(config: config), separate = TestLowRankAdapters(config: config)
        let p = try step(model, ids: a + b, segments: [0..<13, 13..<83], adapters: packed, lossScale: 0.25)
        let s1 = try step(model, ids: a, adapters: separate, lossScale: 0.25)
        let s2 = try step(model, ids: b, adapters: separate, lossScale: 0.25)   // accumulates (+=)
        #expect(p.counted == s1.counted + s2.counted)
        #expect(abs(p.lossSum - (s1.lossSum + s2.lossSum)) <= 1e-5 * abs(p.lossSum))
        #expect(maxRelativeDifference(packed.gradients, separate.gradients) <= 1e-5)
    }

    @Test func gradientsAccumulateAndScaleLinearly() throws {
        let model = try tinyLlama()
        let ids = randomIDs(20, vocab: config.vocabSize, seed: 41)
        let once = TestLowRankAdapters(config: config), twice = TestLowRankAdapters(config: config)
        _ = try step(model, ids: ids, adapters: once, lossScale: 1)
        _ = try step(model, ids: ids, adapters: twice, lossScale: 0.5)
        _ = try step(model, ids: ids, adapters: twice, lossScale: 0.5)
        #expect(maxRelativeDifference(twice.gradients, once.gradients) <= 1e-6)
    }

    @Test func dropoutIsDeterministicPerKey() throws {
        let model = try tinyLlama()
        let ids = randomIDs(30, vocab: config.vocabSize, seed: 51)
        func run(_ key: LoRADropoutKey, dropout: Float = 0.25) throws -> (Double, [[Float]]) {
            let adapters = TestLowRankAdapters(config: config, dropout: dropout)
            let result = try step(model, ids: ids, adapters: adapters, dropout: key)
            return (result.lossSum, adapters.gradients)
        }
        let first = try run(LoRADropoutKey(seed: 5, step: 1))
        let again = try run(LoRADropoutKey(seed: 5, step: 1))
        #expect(first.0 == again.0 && first.1 == again.1)
        let otherStep = try run(LoRADropoutKey(seed: 5, step: 2))
        let otherSample = try run(LoRADropoutKey(seed: 5, step: 1, sampleIndices: [17]))
        let noDropout = try run(LoRADropoutKey(seed: 5, step: 1), dropout: 0)
        #expect(otherStep.0 != first.0 && otherSample.0 != first.0 && noDropout.0 != first.0)
        // Evaluation never drops.
        let adapters = TestLowRankAdapters(config: config, dropout: 0.25)
        let ws = TrainingWorkspace(model: model, shard: .whole(config), maxTokens: 30, maxLoRARank: 4)
        let eval = try model.evaluateLoss(ids: ids, labels: ids, segments: [0..<30], shard: .whole(config),
                                          group: SingleRankGroup(), adapters: adapters, workspace: ws)
        #expect(eval.lossSum == noDropout.0)
    }

    @Test func dropoutMaskKeepsTheExpectedFraction() throws {
        let keys = (0..<64).map { DropoutMask.tokenKey(seed: 9, step: 0, sample: 0, position: $0) }
        try keys.withUnsafeBufferPointer { k in
            let mask = try #require(DropoutMask(probability: 0.3, tokenKeys: k.baseAddress!, layer: 2, module: .downProj,
                                                columnOffset: 0))
            var kept = 0
            for n in 0..<64 { for i in 0..<1000 where mask.keeps(token: n, column: i) { kept += 1 } }
            #expect(abs(Double(kept) / 64_000 - 0.7) < 0.01)
            // A row-parallel slice starting at column 400 sees the columns of the whole mask.
            let slice = try #require(DropoutMask(probability: 0.3, tokenKeys: k.baseAddress!, layer: 2,
                                                 module: .downProj, columnOffset: 400))
            for n in 0..<64 { for i in 0..<100 { #expect(slice.keeps(token: n, column: i) == mask.keeps(token: n, column: 400 + i)) } }
        }
    }

    @Test func refusesBadInput() throws {
        let model = try tinyLlama()
        let ws = TrainingWorkspace(model: model, shard: .whole(config), maxTokens: 8, maxLoRARank: 2)
        func message(_ ids: [Int], _ labels: [Int], _ segments: [Range<Int>], adapters: LowRankAdapters? = nil) -> String {
            do {
                _ = try model.trainStep(ids: ids, labels: labels, segments: segments, shard: .whole(config),
                                        group: SingleRankGroup(), adapters: adapters, lossScale: 1, workspace: ws)
            } catch { return "\(error)" }
            return ""
        }
        #expect(message(Array(0..<9), Array(0..<9), [0..<9]).contains("exceed"))
        #expect(message([1, 2, 3], [1, 2], [0..<3]).contains("labels"))
        #expect(message([1, 2, 3], [1, 2, 3], [0..<2]).contains("segments"))
        #expect(message([1, 2, 3], [1, 2, 3], [1..<3]).contains("segments"))
        #expect(message([1, 99, 3], [1, 2, 3], [0..<3]).contains("vocabulary"))
        #expect(message([1, 2, 3], [1, 2, 50], [0..<3]).contains("label 50"))
        #expect(message([1, 2, 3], [1, 2, 3], [0..<3], adapters: TestLowRankAdapters(config: config, rank: 3)).contains("maxLoRARank"))
        #expect(message([1, 2, 3], [1, -100, 3], [0..<3]) == "")
    }

    @Test func workspaceSizeFormula() throws {
        let model = try tinyLlama()
        let shard = LlamaShard.whole(config)
        for checkpointing in ActivationCheckpointing.allCases {
            let ws = TrainingWorkspace(model: model, shard: shard, maxTokens: 50, maxLoRARank: 8, checkpointing: checkpointing)
            #expect(ws.byteCount == TrainingWorkspace.byteCount(config: config, shard: shard, maxTokens: 50, maxLoRARank: 8,
                                                                checkpointing: checkpointing))
        }
        // SmolLM2 at 4 × 256 tokens, r = 8: checkpointing keeps (L+1)·N·C plus one layer.
        let smol = LlamaConfig(hiddenSize: 576, intermediateSize: 1536, numHiddenLayers: 30, numAttentionHeads: 9,
                               numKeyValueHeads: 3, headDim: 64, vocabSize: 49152, tieWordEmbeddings: true)
        let on = TrainingWorkspace.byteCount(config: smol, shard: .whole(smol), maxTokens: 1024, maxLoRARank: 8)
        let selective = TrainingWorkspace.byteCount(config: smol, shard: .whole(smol), maxTokens: 1024, maxLoRARank: 8,
                                                    checkpointing: .selective)
        let off = TrainingWorkspace.byteCount(config: smol, shard: .whole(smol), maxTokens: 1024, maxLoRARank: 8,
                                              checkpointing: .none)
        #expect(on > 31 * 1024 * 576 * 4 && on < 200_000_000 && off > 3 * on)
        // Selective keeps C + 2·KL + FL + 2 + 7·r floats per layer and token (not xn1, q, att,
        // xn2, h, up); full keeps one such set, shared like the recomputed buffers.
        let keptPerLayer = 1024 * (576 + 2 * 192 + 1536 + 2 + 7 * 8) * 4
        #expect(selective - on == 29 * keptPerLayer)
        #expect(selective < off)
        // Keeping q adds [N, QL] for every layer but the first (whose set is the shared one).
        let keepingQuery = TrainingWorkspace.byteCount(config: smol, shard: .whole(smol), maxTokens: 1024, maxLoRARank: 8,
                                                       checkpointing: .selective, keepQuery: true)
        #expect(keepingQuery - selective == 29 * 1024 * 576 * 4)
        #expect(TrainingWorkspace.byteCount(config: smol, shard: .whole(smol), maxTokens: 1024, maxLoRARank: 8,
                                            keepQuery: true) == on)   // full checkpointing ignores it
        let kept = TrainingWorkspace(model: model, shard: shard, maxTokens: 50, maxLoRARank: 8, checkpointing: .selective,
                                     keepQuery: true)
        #expect(kept.keepsQuery && kept.byteCount == TrainingWorkspace.byteCount(
            config: config, shard: shard, maxTokens: 50, maxLoRARank: 8, checkpointing: .selective, keepQuery: true))
    }
}

private let sharedModel: Result<Llama, Error> = Result { try Llama.load(gguf: TestPaths.defaultModel.path) }

@Suite(.enabled(if: TestPaths.hasDefaultModel, TestPaths.needsDefaultModel))
struct TrainStepSmolLM2Tests {
    @Test func baseLossMatchesTransformers() throws {
        let model = try sharedModel.get()
        let text = try #require(try TestPaths.referenceJSON("text.json") as? [String: Any])
        let ids = try #require(text["input_ids"] as? [Int])
        let base = try #require(try TestPaths.referenceJSON("base.json") as? [String: Any])
        let expected = try #require(base["loss"] as? Double)
        let ws = TrainingWorkspace(model: model, shard: .whole(model.config), maxTokens: ids.count, maxLoRARank: 0)
        let got = try model.evaluateLoss(ids: ids, labels: ids, segments: [0..<ids.count], shard: .whole(model.config),
                                         group: SingleRankGroup(), workspace: ws)
        #expect(got.counted == 90)
        #expect(abs(got.lossSum / 90 - expected) <= 2e-4, "loss \(got.lossSum / 90) vs \(expected)")
    }
}
