// Qwen3 against transformers + PEFT in fp32, on the tiny random-weight Qwen3 that transformers
// saved (Tests/Fixtures/reference/qwen3-tiny: head_dim 32 apart from hidden 64 / 4 heads, 2 KV
// heads, tied embeddings, random q/k norm weights): the base loss and logits; generation's
// KV-cache steps against one pass; with the all-linear PEFT adapter the loss and every gradient
// under each activation-checkpointing mode (each recomputes the q/k norm differently); whole
// training steps through the session at tp 1 and tp 2 (two threads), whose first-step loss and
// gradient norm are PEFT's; and the adapter merged and the model written as GGUF and as Hugging
// Face safetensors, read back with the q/k norms and the same loss. Tolerances as the SmolLM2
// reference (the fixture's README): losses 2e-4, logits 1e-3, gradients 1e-3 relative.

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

private let fixture = TestPaths.familyReference("qwen3-tiny")

private struct Reference {
    let ids: [Int]
    let baseLoss: Double
    let baseLogits: [String: [Double]]
    let loraLoss: Double
    let gradNorm: Double

    init() throws {
        let data = try Data(contentsOf: fixture.appendingPathComponent("reference.json"))
        let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        ids = try #require(json["ids"] as? [Int])
        baseLoss = try #require(json["base_loss"] as? Double)
        baseLogits = try #require(json["base_logits_last3_first20"] as? [String: [Double]])
        loraLoss = try #require(json["lora_loss"] as? Double)
        gradNorm = try #require(json["grad_total_l2_norm"] as? Double)
    }
}

private func loadModel() throws -> Llama {
    try ModelPath(fixture.appendingPathComponent("model").path).load(baseQuantization: .none)
}

@Suite struct Qwen3ReferenceTests {
    @Test func configIsQwen3WithItsOwnHeadDim() throws {
        let model = try loadModel()
        #expect(model.config.architecture == .qwen3)
        #expect(model.config.headDim == 32 && model.config.queryWidth == 128 && model.config.hiddenSize == 64)
        #expect(model.weights.layers.allSatisfy { $0.qNorm?.count == 32 && $0.kNorm?.count == 32 && $0.qBias == nil })
    }

    @Test func baseLossAndLogitsMatchTransformers() throws {
        let reference = try Reference()
        let model = try loadModel()
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
    @Test func kvCacheStepsEqualOneFullPass() throws {
        let model = try loadModel()
        let ids = Array(try Reference().ids.prefix(10))
        let full = try model.evaluate(sequences: [ids], logitRows: Array(0..<ids.count))
        let cache = KVCache(model: model, capacity: ids.count)
        let ws = LlamaWorkspace(model: model, maxTokens: 4, maxKeys: ids.count)
        var start = 0
        for chunk in [4, 1, 1, 1, 1, 1, 1] {
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

    @Test(arguments: ActivationCheckpointing.allCases)
    func adapterLossAndEveryGradientMatchPEFT(checkpointing: ActivationCheckpointing) throws {
        let reference = try Reference()
        let model = try loadModel()
        let ids = reference.ids
        let adapter = try LoRAAdapter.load(from: fixture.appendingPathComponent("adapter"), model: model.config)
        #expect(adapter.factors.count == 7 * model.config.numHiddenLayers)
        let ws = TrainingWorkspace(model: model, shard: .whole(model.config), maxTokens: ids.count, maxLoRARank: adapter.rank,
                                   checkpointing: checkpointing)
        let result = try model.trainStep(ids: ids, labels: ids, segments: [0..<ids.count], shard: .whole(model.config),
                                         group: SingleRankGroup(), adapters: adapter,
                                         lossScale: 1 / Float(ids.count - 1), workspace: ws)
        let loss = result.lossSum / Double(result.counted)
        #expect(abs(loss - reference.loraLoss) <= 2e-4, "\(checkpointing): loss \(loss) vs PEFT \(reference.loraLoss)")
        let grads = try SafeTensorsFile(path: fixture.appendingPathComponent("lora_grads.safetensors").path)
        var squares = 0.0
        for f in adapter.factors {
            for (name, grad) in [(f.target.loraAName, f.gradA), (f.target.loraBName, f.gradB)] {
                let expected = try grads.floats(named: name)
                try #require(expected.count == grad.count, "\(name)")
                var diff = 0.0, norm = 0.0
                for (g, e) in zip(grad.array, expected) {
                    diff += Double(g - e) * Double(g - e)
                    norm += Double(e) * Double(e)
                    squares += Double(g) * Double(g)
                }
                let relative = (diff / max(norm, 1e-30)).squareRoot()
                #expect(relative <= 1e-3, "\(checkpointing): \(name) relative error \(relative)")
            }
        }
        #expect(abs(squares.squareRoot() - reference.gradNorm) <= 1e-3 * reference.gradNorm)
    }

    /// Merged with the PEFT adapter (its loss is PEFT's), then exported as F32 GGUF (`qwen3`)
    /// and as Hugging Face safetensors: both read back as Qwen3 with the q/k norm weights and the
    /// merged model's loss, bit for bit.
    @Test func mergedModelSurvivesGGUFAndHuggingFaceExport() throws {
        let reference = try Reference()
        let model = try loadModel()
        let adapter = try LoRAAdapter.load(from: fixture.appendingPathComponent("adapter"), model: model.config)
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
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-qwen3-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        let gguf = root.appendingPathComponent("merged.gguf").path
        try exportGGUF(model: merged, tokenizer: GGUFTokenizerMetadata(tokenizer), to: gguf, dtype: .f32)
        let file = try GGUFFile(path: gguf)
        #expect(file["general.architecture"]?.string == "qwen3" && file["qwen3.attention.key_length"]?.int == 32)
        #expect(file.tensor(named: "blk.1.attn_k_norm.weight") != nil)
        let hf = root.appendingPathComponent("hf").path
        try exportHuggingFace(model: merged, tokenizer: tokenizer, to: hf, dtype: .f32)
        for path in [gguf, hf] {
            let reloaded = try ModelPath(path).load()
            #expect(reloaded.config.architecture == .qwen3 && reloaded.config.headDim == 32, "\(path)")
            #expect(zip(reloaded.weights.layers, merged.weights.layers).allSatisfy {
                $0.qNorm?.array == $1.qNorm?.array && $0.kNorm?.array == $1.kNorm?.array
            }, "\(path): q/k norm weights")
            #expect(try reloaded.evaluate(sequences: ids).loss == loss, "\(path)")
        }
    }

    /// One training step through the session on a mesh of `tp` threads: its loss and gradient
    /// norm (before clipping) are PEFT's for the same adapter, and the ranks agree.
    @Test(arguments: [1, 2])
    func sessionStepMatchesPEFTUnderTensorParallelism(tp: Int) throws {
        let reference = try Reference()
        let ids = reference.ids
        let threaded = ThreadedMesh(tp: tp, dp: 1)
        let results = runOnThreads(tp) { w -> StepReport in
            let g = threaded.groups[w]
            let mesh = try ProcessMesh(world: g.world, tensorParallel: g.tensorParallel, dataParallel: g.dataParallel)
            let stream = try TrainingStream(examples: [TokenizedExample(inputIDs: ids, labels: ids)], maxSeqLen: ids.count,
                                            packing: false, seed: 0)
            let options = TrainerOptions(steps: 1, globalBatchSize: 1, maxSeqLen: ids.count, packing: false, maxGradNorm: nil,
                                         activationCheckpointing: .selective)
            let session = try TrainingSession(source: .weights(try ModelPath(fixture.appendingPathComponent("model").path)),
                                              mesh: mesh, baseQuantization: .none, stream: stream, options: options) { model in
                try LoRAAdapter.load(from: fixture.appendingPathComponent("adapter"), model: model)
            }
            return try session.trainer.step(0)
        }
        for (w, result) in results.enumerated() {
            let report = try result.get()
            #expect(abs(report.loss - reference.loraLoss) <= 2e-4, "tp \(tp) rank \(w): loss \(report.loss) vs PEFT \(reference.loraLoss)")
            #expect(abs(report.gradNorm - reference.gradNorm) <= 1e-3 * reference.gradNorm,
                    "tp \(tp) rank \(w): gradient norm \(report.gradNorm) vs PEFT \(reference.gradNorm)")
        }
    }
}
