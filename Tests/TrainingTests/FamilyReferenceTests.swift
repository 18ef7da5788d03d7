// Model families against transformers + PEFT in fp32, each on a tiny random-weight model that
// transformers saved (Tests/Fixtures/reference/<family>-tiny, made by
// scripts/reference/make_family_reference.py): llama (llama3 RoPE scaling, untied head), qwen2
// (q/k/v biases), qwen3 (head_dim 32 apart from hidden 64 / 4 heads,
// tied embeddings, random q/k norm weights), mistral (sliding window 8 over 40 tokens, untied
// head) and gemma3 (norms as 1 + w, four per layer, GeGLU, √C embeddings, five sliding-window
// layers and a global one with their own RoPE bases, one KV head) and phi3 (fused qkv_proj and
// gate_up_proj adapted by PEFT as one module each, LongRoPE, partial rotary 0.75, window 16). For each: the base loss and logits; generation's KV-cache steps against one pass; with
// the all-linear PEFT adapter the loss and every gradient under each activation-checkpointing
// mode; one training step through the session on (tp, dp) = (1,1), (2,1), (1,2), (2,2) (threads),
// whose loss and gradient norm are PEFT's; the adapter merged and the model written as Hugging
// Face safetensors (and GGUF where llama.cpp reads the family), read back with the same loss.
// Then what each family adds: qwen3's q/k norm weights, mistral's window against transformers'
// full-causal loss. Tolerances as the SmolLM2 reference (the fixtures' READMEs): losses 2e-4,
// logits 1e-3, gradients 1e-3 relative.

import Foundation
@testable import LlamaModel
import LoRA
import ModelFormats
import ModelIO
import Parallelism
import ProcessGroups
import Testing
import TestSupport
import Tokenization
import Training

private let families = ["llama-tiny", "qwen2-tiny", "qwen3-tiny", "mistral-tiny", "gemma3-tiny", "phi3-tiny"]

private struct Reference {
    let fixture: URL
    let json: [String: Any]
    let ids: [Int]
    let baseLoss: Double
    let baseLogits: [String: [Double]]
    let loraLoss: Double
    let gradNorm: Double

    init(_ family: String) throws {
        fixture = TestPaths.familyReference(family)
        let data = try Data(contentsOf: fixture.appendingPathComponent("reference.json"))
        json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        ids = try #require(json["ids"] as? [Int])
        baseLoss = try #require(json["base_loss"] as? Double)
        baseLogits = try #require(json["base_logits_last3_first20"] as? [String: [Double]])
        loraLoss = try #require(json["lora_loss"] as? Double)
        gradNorm = try #require(json["grad_total_l2_norm"] as? Double)
    }

    var modelPath: String { fixture.appendingPathComponent("model").path }
    var adapterDirectory: URL { fixture.appendingPathComponent("adapter") }

    func loadModel() throws -> Llama {
        try ModelPath(modelPath).load(baseQuantization: .none)
    }
}

@Suite struct FamilyReferenceTests {
    @Test func qwen3HasItsOwnHeadDimAndQKNorms() throws {
        let model = try Reference("qwen3-tiny").loadModel()
        #expect(model.config.architecture == .qwen3)
        #expect(model.config.headDim == 32 && model.config.queryWidth == 128 && model.config.hiddenSize == 64)
        #expect(model.weights.layers.allSatisfy { $0.qNorm?.count == 32 && $0.kNorm?.count == 32 && $0.qBias == nil })
    }

    @Test(arguments: families)
    func baseLossAndLogitsMatchTransformers(family: String) throws {
        let reference = try Reference(family)
        let model = try reference.loadModel()
        let ids = reference.ids
        let rows = Array((ids.count - 3)..<ids.count)
        let result = try model.evaluate(sequences: [ids], logitRows: rows)
        #expect(result.countedTargets == ids.count - 1)
        #expect(abs(result.loss - reference.baseLoss) <= 2e-4, "base loss \(result.loss) vs transformers \(reference.baseLoss)")
        for (slot, row) in rows.enumerated() {
            let expected = try #require(reference.baseLogits[String(row)])
            for i in 0..<20 {
                #expect(abs(Double(result.logits[slot][i]) - expected[i]) <= 1e-3, "row \(row) logit \(i)")
            }
        }
    }

    /// Generation's path: a prompt, then one token at a time through the KV cache (k normed
    /// before it is cached), gives the logits of one full pass.
    @Test(arguments: families)
    func kvCacheStepsEqualOneFullPass(family: String) throws {
        let reference = try Reference(family)
        let model = try reference.loadModel()
        let ids = Array(reference.ids.prefix(14))
        let full = try model.evaluate(sequences: [ids], logitRows: Array(0..<ids.count))
        let cache = KVCache(model: model, capacity: ids.count)
        let ws = LlamaWorkspace(model: model, maxTokens: 4, maxKeys: ids.count)
        var start = 0
        for chunk in [4, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1] {
            let part = Array(ids[start..<(start + chunk)])
            for i in 0..<chunk { ws.positions[i] = start + i }
            try part.withUnsafeBufferPointer {
                try model.forwardHidden(ids: $0.baseAddress!, tokens: chunk, segments: [0..<chunk], cache: cache, workspace: ws)
            }
            for i in 0..<chunk {
                try model.headLogits(start: i, count: 1, into: ws.logits.pointer, workspace: ws)
                let got = Array(UnsafeBufferPointer(start: ws.logits.pointer, count: model.config.vocabSize))
                #expect(got.indices.allSatisfy { abs(got[$0] - full.logits[start + i][$0]) <= 1e-4 }, "position \(start + i)")
            }
            start += chunk
        }
    }

    @Test(arguments: families, ActivationCheckpointing.allCases)
    func adapterLossAndEveryGradientMatchPEFT(family: String, checkpointing: ActivationCheckpointing) throws {
        let reference = try Reference(family)
        let model = try reference.loadModel()
        let ids = reference.ids
        let adapter = try LoRAAdapter.load(from: reference.adapterDirectory, model: model.config)
        #expect(adapter.factors.count == 7 * model.config.numHiddenLayers)
        let ws = TrainingWorkspace(model: model, shard: .whole(model.config), maxTokens: ids.count, maxLoRARank: adapter.rank,
                                   checkpointing: checkpointing)
        let result = try model.trainStep(ids: ids, labels: ids, segments: [0..<ids.count], shard: .whole(model.config),
                                         group: SingleRankGroup(), adapters: adapter,
                                         lossScale: 1 / Float(ids.count - 1), workspace: ws)
        let loss = result.lossSum / Double(result.counted)
        #expect(abs(loss - reference.loraLoss) <= 2e-4, "\(family) \(checkpointing): loss \(loss) vs PEFT \(reference.loraLoss)")
        let grads = try SafeTensorsFile(path: reference.fixture.appendingPathComponent("lora_grads.safetensors").path)
        var squares = 0.0
        // PEFT's tensors (a fused module's A once, its B the parts' rows stacked).
        let tensors = adapter.peftTensors(gradients: true)
        #expect(Set(tensors.map(\.name)) == Set(grads.tensors.map(\.name)), "\(family): the adapter's tensors are PEFT's")
        for (name, _, grad) in tensors {
            let expected = try grads.floats(named: name)
            try #require(expected.count == grad.count, "\(name)")
            var diff = 0.0, norm = 0.0
            for (g, e) in zip(grad, expected) {
                diff += Double(g - e) * Double(g - e)
                norm += Double(e) * Double(e)
                squares += Double(g) * Double(g)
            }
            let relative = (diff / max(norm, 1e-30)).squareRoot()
            #expect(relative <= 1e-3, "\(family) \(checkpointing): \(name) relative error \(relative)")
        }
        #expect(abs(squares.squareRoot() - reference.gradNorm) <= 1e-3 * reference.gradNorm)
    }

    /// Merged with the PEFT adapter (its loss is PEFT's), then exported as Hugging Face
    /// safetensors and, where llama.cpp reads the family, F32 GGUF: each reads back as the same
    /// family (head dim, window, tied head, q/k norm weights) with the merged model's loss, bit for bit.
    @Test(arguments: families)
    func mergedModelSurvivesExport(family: String) throws {
        let reference = try Reference(family)
        let model = try reference.loadModel()
        let adapter = try LoRAAdapter.load(from: reference.adapterDirectory, model: model.config)
        let merged = try Llama(config: model.config, weights: try adapter.merged(into: model.weights))
        let ids = [reference.ids]
        let loss = try merged.evaluate(sequences: ids).loss
        #expect(abs(loss - reference.loraLoss) <= 2e-4, "merged loss \(loss) vs PEFT \(reference.loraLoss)")

        let tokens = ["<s>", "</s>", "<pad>"] + (3..<model.config.vocabSize).map { "t\($0)" }
        var types = [Int](repeating: TokenizerDefinition.TokenType.normal, count: tokens.count)
        (types[0], types[1], types[2]) = (TokenizerDefinition.TokenType.control, TokenizerDefinition.TokenType.control,
                                          TokenizerDefinition.TokenType.control)
        let tokenizer = TokenizerDefinition(tokens: tokens, merges: [], tokenTypes: types, preTokenizer: .smollm,
                                            bosTokenID: 0, eosTokenID: 1, addBOS: false, chatTemplate: nil)
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-\(family)-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        let hf = root.appendingPathComponent("hf").path
        try exportHuggingFace(model: merged, tokenizer: tokenizer, to: hf, dtype: .f32)
        var paths = [hf]
        // llama.cpp reads Mistral as llama, without its window: no GGUF round trip for it.
        if model.config.architecture.readsGGUF {
            let gguf = root.appendingPathComponent("merged.gguf").path
            try exportGGUF(model: merged, tokenizer: GGUFTokenizerMetadata(tokenizer), to: gguf, dtype: .f32)
            let file = try GGUFFile(path: gguf)
            #expect(file["general.architecture"]?.string == model.config.architecture.ggufArchitecture)
            paths.append(gguf)
        }
        for path in paths {
            let reloaded = try ModelPath(path).load()
            let (a, b) = (reloaded.config, merged.config)
            #expect(a.architecture == b.architecture && a.headDim == b.headDim && a.slidingWindow == b.slidingWindow
                    && a.tieWordEmbeddings == b.tieWordEmbeddings, "\(path)")
            #expect(zip(reloaded.weights.layers, merged.weights.layers).allSatisfy {
                $0.qNorm?.array == $1.qNorm?.array && $0.kNorm?.array == $1.kNorm?.array
            }, "\(path): q/k norm weights")
            let reloadedLoss = try reloaded.evaluate(sequences: ids).loss
            #expect(reloadedLoss == loss, "\(path): \(reloadedLoss) vs \(loss)")
        }
    }

    /// One training step through the session on a (tp, dp) mesh of threads, the batch two copies
    /// of the reference ids: its loss and gradient norm (before clipping) are PEFT's for the same
    /// adapter on every rank, so every mesh equals (1, 1) too.
    @Test(arguments: families, [[1, 1], [2, 1], [1, 2], [2, 2]])
    func sessionStepMatchesPEFTOnEveryMesh(family: String, mesh shape: [Int]) throws {
        try sessionStep(family: family, mesh: shape)
    }

    /// The largest tp the heads allow (4 heads: one per rank; FFN 256 = four column blocks):
    /// qwen3 and mistral share each of their 2 KV heads between two ranks, gemma3's one KV head
    /// is projected by one rank and handed to the other three (docs/architecture.md §5.3).
    @Test(arguments: families)
    func largestTensorParallelMeshMatchesPEFT(family: String) throws {
        try sessionStep(family: family, mesh: [4, 1])
    }

    /// Phi-3 with LoRA dropout 0.1 (PEFT draws one mask per module input, so q, k, v of the fused
    /// qkv_proj share it): the masks depend on no rank, so every mesh takes the (1, 1) step, and
    /// dropout changes the loss.
    @Test func phi3DropoutStepIsTheSameOnEveryMesh() throws {
        let reports = try [[1, 1], [2, 1], [4, 1], [2, 2]].map { try sessionStep(family: "phi3-tiny", mesh: $0, dropout: 0.1) }
        let reference = try Reference("phi3-tiny")
        for (mesh, report) in zip([[2, 1], [4, 1], [2, 2]], reports.dropFirst()) {
            #expect(abs(report.loss - reports[0].loss) <= 1e-5 * reports[0].loss, "\(mesh): \(report.loss) vs \(reports[0].loss)")
            #expect(abs(report.gradNorm - reports[0].gradNorm) <= 1e-4 * reports[0].gradNorm, "\(mesh)")
        }
        #expect(abs(reports[0].loss - reference.loraLoss) > 1e-3, "dropout must change the loss")
    }

    @discardableResult
    private func sessionStep(family: String, mesh shape: [Int], dropout: Double = 0) throws -> StepReport {
        let reference = try Reference(family)
        let ids = reference.ids
        let (modelPath, adapterDirectory) = (reference.modelPath, reference.adapterDirectory)
        let (tp, dp) = (shape[0], shape[1])
        let threaded = ThreadedMesh(tp: tp, dp: dp)
        let results = runOnThreads(tp * dp) { w -> StepReport in
            let g = threaded.groups[w]
            let mesh = try ProcessMesh(world: g.world, tensorParallel: g.tensorParallel, dataParallel: g.dataParallel)
            let example = TokenizedExample(inputIDs: ids, labels: ids)
            let stream = try TrainingStream(examples: [example, example], maxSeqLen: ids.count, packing: false, seed: 0)
            let options = TrainerOptions(steps: 1, globalBatchSize: 2, microBatchSize: 1, maxSeqLen: ids.count,
                                         packing: false, maxGradNorm: nil, activationCheckpointing: .selective)
            let session = try TrainingSession(source: .weights(try ModelPath(modelPath)),
                                              mesh: mesh, baseQuantization: .none, stream: stream, options: options) { model in
                let peft = try LoRAAdapter.load(from: adapterDirectory, model: model)
                guard dropout > 0 else { return peft }
                var config = peft.config
                config.loraDropout = dropout
                let adapter = try LoRAAdapter(config: config, targets: peft.targets)
                for (to, from) in zip(adapter.factors, peft.factors) {
                    to.a.pointer.update(from: from.a.pointer, count: from.a.count)
                    to.b.pointer.update(from: from.b.pointer, count: from.b.count)
                }
                return adapter
            }
            return try session.trainer.step(0)
        }
        if dropout > 0 { return try results[0].get() }
        for (w, result) in results.enumerated() {
            let report = try result.get()
            let label = "\(family) tp \(tp) dp \(dp) rank \(w)"
            #expect(report.countedTargets == 2 * (ids.count - 1), "\(label)")
            #expect(abs(report.loss - reference.loraLoss) <= 2e-4, "\(label): loss \(report.loss) vs PEFT \(reference.loraLoss)")
            #expect(abs(report.gradNorm - reference.gradNorm) <= 1e-3 * reference.gradNorm,
                    "\(label): gradient norm \(report.gradNorm) vs PEFT \(reference.gradNorm)")
        }
        return try results[0].get()
    }

    /// The GGUF the generator wrote with the gguf package, laid out as llama.cpp's converter
    /// writes the family (Gemma's norms stored as 1 + w, no q/k permutation, a tied head as no
    /// output.weight, only the keys llama.cpp reads): the same model as the safetensors, so
    /// transformers' base loss and logits.
    @Test(arguments: ["llama-tiny", "qwen2-tiny", "qwen3-tiny", "gemma3-tiny", "phi3-tiny"])
    func ggufFromTheGGUFPackageGivesTransformersLoss(family: String) throws {
        let reference = try Reference(family)
        let model = try ModelPath(reference.fixture.appendingPathComponent("model.gguf").path).load(baseQuantization: .none)
        let hf = try reference.loadModel()
        let (a, b) = (model.config, hf.config)
        #expect(a.architecture == b.architecture && a.headDim == b.headDim && a.numKeyValueHeads == b.numKeyValueHeads
                && a.tieWordEmbeddings == b.tieWordEmbeddings && a.slidingWindow == b.slidingWindow && a.slidingLayers == b.slidingLayers
                && a.localRopeTheta == b.localRopeTheta && a.ropeLinearFactor == b.ropeLinearFactor
                && a.queryPreAttentionScalar == b.queryPreAttentionScalar && Float(a.rmsNormEps) == Float(b.rmsNormEps)
                && a.rotaryDim == b.rotaryDim && a.longRoPE?.originalMaxPositionEmbeddings == b.longRoPE?.originalMaxPositionEmbeddings
                && a.longRoPE?.longFactor.map(Float.init) == b.longRoPE?.longFactor.map(Float.init),
                "\(a) vs \(b)")
        // LongRoPE: the GGUF states the attention factor, transformers derives it.
        #expect(model.longRope?.invFreq == hf.longRope?.invFreq && model.longRope?.cos[5] == hf.longRope?.cos[5])
        #expect(zip(model.weights.layers, hf.weights.layers).allSatisfy {
            $0.attentionNorm.array == $1.attentionNorm.array && $0.qNorm?.array == $1.qNorm?.array
                && $0.postFFNNorm?.array == $1.postFFNNorm?.array && $0.qBias?.array == $1.qBias?.array
        }, "norm weights and biases as held")
        // llama3 scaling: HF's rope_scaling, the GGUF's rope_freqs.weight (llama.cpp's divisors).
        #expect(model.rope.invFreq.indices.allSatisfy {
            abs(model.rope.invFreq[$0] - hf.rope.invFreq[$0]) <= 1e-6 * hf.rope.invFreq[$0]
        }, "RoPE frequencies")
        let ids = reference.ids
        let rows = Array((ids.count - 3)..<ids.count)
        let result = try model.evaluate(sequences: [ids], logitRows: rows)
        #expect(abs(result.loss - reference.baseLoss) <= 2e-4, "GGUF loss \(result.loss) vs transformers \(reference.baseLoss)")
        for (slot, row) in rows.enumerated() {
            let expected = try #require(reference.baseLogits[String(row)])
            #expect((0..<20).allSatisfy { abs(Double(result.logits[slot][$0]) - expected[$0]) <= 1e-3 }, "row \(row)")
        }
    }

    /// What the llama and qwen2 fixtures add: llama3 RoPE scaling (transformers' loss without
    /// it, on a rebuilt copy, is matched with it removed) and q/k/v biases (zeroed on a copy).
    @Test func llamaScalingAndQwen2BiasesMatter() throws {
        let llama = try Reference("llama-tiny")
        let model = try llama.loadModel()
        #expect(model.config.architecture == .llama && model.config.ropeScaling?.factor == 8 && !model.config.tieWordEmbeddings)
        let plain = try #require((llama.json["rope_scaling_effect"] as? [String: Any])?["loss_without_rope_scaling"] as? Double)
        var config = model.config
        config.ropeScaling = nil
        let loss = try Llama(config: config, weights: model.weights).evaluate(sequences: [llama.ids]).loss
        #expect(abs(loss - plain) <= 2e-4 && abs(loss - llama.baseLoss) > 1e-3, "no scaling: \(loss) vs transformers \(plain)")

        let qwen2 = try Reference("qwen2-tiny")
        let biased = try qwen2.loadModel()
        #expect(biased.config.architecture == .qwen2 && biased.weights.layers.allSatisfy { $0.qBias != nil && $0.vBias != nil })
        let zeroed = try #require((qwen2.json["bias_effect"] as? [String: Any])?["loss_with_biases_zero"] as? Double)
        var weights = biased.weights
        for l in weights.layers.indices {
            for bias in [weights.layers[l].qBias, weights.layers[l].kBias, weights.layers[l].vBias] {
                let b = try #require(bias)
                b.pointer.update(repeating: 0, count: b.count)
            }
        }
        let zeroLoss = try Llama(config: biased.config, weights: weights).evaluate(sequences: [qwen2.ids]).loss
        #expect(abs(zeroLoss - zeroed) <= 2e-4 && abs(zeroLoss - qwen2.baseLoss) > 1e-3, "zero biases: \(zeroLoss) vs \(zeroed)")
    }

    /// Gemma 3's traits as read from its config.json, and what each does: the window on the
    /// sliding layers only (every layer global gives transformers' loss for that copy), the
    /// attention scale from query_pre_attn_scalar, and norm weights held as 1 + w.
    @Test func gemma3TraitsAreReadAndEachMatches() throws {
        let reference = try Reference("gemma3-tiny")
        let model = try reference.loadModel()
        let config = model.config
        #expect(config.architecture == .gemma3 && config.numKeyValueHeads == 1 && config.headDim == 32)
        #expect(config.slidingLayers == [true, true, true, true, true, false] && config.slidingWindow == 8)
        #expect((0..<6).map { config.attentionWindow(layer: $0) } == [8, 8, 8, 8, 8, nil])
        #expect(config.localRopeTheta == 10_000 && config.ropeTheta == 1_000_000 && config.ropeLinearFactor == 8)
        #expect(config.queryPreAttentionScalar == 32 && config.tieWordEmbeddings)
        #expect(model.localRope != nil && model.rope.invFreq[1] != model.localRope?.invFreq[1])
        // Norm weights: the file's w, held as 1 + w.
        let file = try SafeTensorsFile(path: reference.fixture.appendingPathComponent("model/model.safetensors").path)
        let stored = try file.floats(named: "model.layers.1.post_feedforward_layernorm.weight")
        #expect(model.weights.layers[1].postFFNNorm?.array == stored.map { $0 + 1 })
        #expect(model.weights.layers.allSatisfy { $0.postAttentionNorm != nil && $0.qNorm?.count == 32 })

        let effects = try #require(reference.json["gemma3_effects"] as? [String: Any])
        var global = config
        global.slidingLayers = [Bool](repeating: false, count: 6)
        let allGlobal = try #require(effects["loss_all_layers_full_attention"] as? Double)
        let loss = try Llama(config: global, weights: model.weights).evaluate(sequences: [reference.ids]).loss
        #expect(abs(loss - allGlobal) <= 2e-4, "every layer global: \(loss) vs transformers \(allGlobal)")
        var rescaled = config
        rescaled.queryPreAttentionScalar = 24
        let scaled = try #require(effects["loss_query_pre_attn_scalar_24"] as? Double)
        let scaledLoss = try Llama(config: rescaled, weights: model.weights).evaluate(sequences: [reference.ids]).loss
        #expect(abs(scaledLoss - scaled) <= 2e-4, "query_pre_attn_scalar 24: \(scaledLoss) vs transformers \(scaled)")
        #expect(abs(scaledLoss - reference.baseLoss) > 1e-3 && abs(loss - reference.baseLoss) > 1e-3)
    }

    /// Phi-3's traits as read from its config.json, and LongRoPE's two regimes: the first 24
    /// ids stay inside the 32-token original context (short factors: transformers' loss of that
    /// prefix), the 40-token pass takes the long factors (with them replaced by the short ones,
    /// transformers' loss of that copy). The fused matrices are split by rows on load, and a
    /// PEFT adapter on them has one A per fused module, shared by its parts.
    @Test func phi3FusedProjectionsAndLongRoPE() throws {
        let reference = try Reference("phi3-tiny")
        let model = try reference.loadModel()
        let config = model.config
        #expect(config.architecture == .phi3 && config.headDim == 16 && config.rotaryDim == 12 && config.tieWordEmbeddings)
        #expect(config.attentionWindow == 16 && config.longRoPE?.originalMaxPositionEmbeddings == 32)
        #expect(model.rope.rotaryDim == 12 && model.longRope?.invFreq != model.rope.invFreq)
        let file = try SafeTensorsFile(path: reference.fixture.appendingPathComponent("model/model.safetensors").path)
        let qkv = try file.floats(named: "model.layers.1.self_attn.qkv_proj.weight")
        let v = try model.weights.layers[1].v.dequantized()
        #expect(Array(qkv[(96 * 64)...]) == v, "v is the last 32 rows of qkv_proj")
        let adapter = try LoRAAdapter.load(from: reference.adapterDirectory, model: config)
        let q = try #require(adapter.factors(layer: 0, module: .qProj)), k = try #require(adapter.factors(layer: 0, module: .kProj))
        #expect(q.a === k.a && q.b !== k.b && q.target.loraAName.hasSuffix("self_attn.qkv_proj.lora_A.weight"))
        #expect(adapter.tensors.count == 2 * (4 + 2 + 3 + 2) && adapter.peftModules.count == 2 * 4)   // qkv: A + 3 B; gate_up: A + 2 B

        let effects = try #require(reference.json["phi3_effects"] as? [String: Any])
        let prefix = try #require(effects["loss_first_24_ids"] as? Double)
        let short = try model.evaluate(sequences: [Array(reference.ids.prefix(24))]).loss
        #expect(abs(short - prefix) <= 2e-4, "24 ids (short factors): \(short) vs transformers \(prefix)")
        var swapped = config
        swapped.longRoPE?.longFactor = config.longRoPE?.shortFactor ?? []
        let swappedReference = try #require(effects["loss_long_factor_as_short"] as? Double)
        let swappedLoss = try Llama(config: swapped, weights: model.weights).evaluate(sequences: [reference.ids]).loss
        #expect(abs(swappedLoss - swappedReference) <= 2e-4, "long factors as short: \(swappedLoss) vs \(swappedReference)")
        #expect(abs(swappedLoss - reference.baseLoss) > 1e-3, "the long factors must change the loss")
    }

    /// Mistral's window is applied: with it the loss is transformers' windowed one (above), and
    /// with the window removed it is transformers' full-causal one (`window_effect`).
    @Test func mistralWindowIsAppliedAndMatters() throws {
        let reference = try Reference("mistral-tiny")
        let model = try reference.loadModel()
        #expect(model.config.architecture == .mistral && model.config.attentionWindow == 8)
        let effect = try #require(reference.json["window_effect"] as? [String: Any])
        let fullCausal = try #require(effect["loss_full_causal"] as? Double)
        var config = model.config
        config.slidingWindow = nil
        let unwindowed = try Llama(config: config, weights: model.weights)
        let loss = try unwindowed.evaluate(sequences: [reference.ids]).loss
        #expect(abs(loss - fullCausal) <= 2e-4, "without the window \(loss) vs transformers' full causal \(fullCausal)")
        #expect(abs(loss - reference.baseLoss) > 1e-2, "the window must change the loss")
    }
}
