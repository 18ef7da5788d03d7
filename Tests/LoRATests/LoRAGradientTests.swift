// The training step with the reference PEFT adapter (lora_r8_qv) on SmolLM2-135M-Instruct
// against transformers + PEFT in fp32 (Tests/Fixtures/reference/smollm2/lora.json and
// lora_grads.safetensors): loss, every gradient tensor, total norm; and over an NF4 base
// (qlora_nf4.json): loss and every gradient norm. (Checkpointing on = off is
// checked bit for bit on the tiny model in LlamaModelTests, where it costs no real-model step.)

import Foundation
import Kernels
import LlamaModel
import ModelIO
@testable import LoRA
import ModelFormats
import ProcessGroups
import Testing
import TestSupport

private let sharedModel: Result<Llama, Error> = Result { try Llama.load(gguf: TestPaths.defaultModel.path) }

@Suite(.enabled(if: TestPaths.hasDefaultModel, TestPaths.needsDefaultModel))
struct LoRAGradientTests {
    private func referenceStep(checkpointing: ActivationCheckpointing) throws -> (loss: Double, adapter: LoRAAdapter, seconds: Double) {
        let model = try sharedModel.get()
        let text = try #require(try TestPaths.referenceJSON("text.json") as? [String: Any])
        let ids = try #require(text["input_ids"] as? [Int])
        let adapter = try LoRAAdapter.load(from: referenceAdapter, model: model.config)
        let ws = TrainingWorkspace(model: model, shard: .whole(model.config), maxTokens: ids.count, maxLoRARank: adapter.rank,
                                   checkpointing: checkpointing)
        let start = Date()
        let result = try model.trainStep(ids: ids, labels: ids, segments: [0..<ids.count], shard: .whole(model.config),
                                         group: SingleRankGroup(), adapters: adapter, lossScale: 1 / 90, workspace: ws)
        let seconds = Date().timeIntervalSince(start)
        #expect(result.counted == 90)
        return (result.lossSum / Double(result.counted), adapter, seconds)
    }

    @Test func lossAndEveryGradientMatchPEFT() throws {
        let lora = try #require(try TestPaths.referenceJSON("lora.json") as? [String: Any])
        let expectedLoss = try #require(lora["loss"] as? Double)
        let expectedNorm = try #require(lora["grad_total_l2_norm"] as? Double)
        let (loss, adapter, seconds) = try referenceStep(checkpointing: .full)
        #expect(abs(loss - expectedLoss) <= 2e-4, "loss \(loss) vs \(expectedLoss)")

        let grads = try SafeTensorsFile(path: TestPaths.reference.appendingPathComponent("lora_grads.safetensors").path)
        var worst = (error: 0.0, name: "")
        var totalSquares = 0.0
        for f in adapter.factors {
            for (name, grad) in [(f.target.loraAName, f.gradA), (f.target.loraBName, f.gradB)] {
                let expected = try grads.floats(named: name)
                try #require(expected.count == grad.count, "\(name)")
                var diff = 0.0, norm = 0.0
                for (g, e) in zip(grad.array, expected) {
                    diff += Double(g - e) * Double(g - e)
                    norm += Double(e) * Double(e)
                    totalSquares += Double(g) * Double(g)
                }
                let relative = (diff / max(norm, 1e-30)).squareRoot()
                if relative > worst.error { worst = (relative, name) }
                #expect(relative <= 1e-3, "\(name): relative error \(relative)")
            }
        }
        let total = totalSquares.squareRoot()
        #expect(abs(total - expectedNorm) <= 1e-3 * expectedNorm, "total norm \(total) vs \(expectedNorm)")
        print("reference LoRA step: loss \(loss), worst gradient \(worst.name) \(worst.error), total norm \(total), \(seconds) s")
    }

    /// QLoRA: the base's linears in NF4 with double quantization (bnb's default), the same
    /// adapter; loss and gradient norms from transformers + bitsandbytes (qlora_nf4.json).
    @Test func qloraStepMatchesBitsAndBytes() throws {
        let reference = try #require(try TestPaths.referenceJSON("qlora_nf4.json") as? [String: Any])
        let expected = try #require(reference["double_quant"] as? [String: Any])
        let expectedLoss = try #require(expected["lora_loss"] as? Double)
        let expectedNorm = try #require(expected["lora_grad_total_l2_norm"] as? Double)
        let expectedNorms = try #require(expected["lora_grad_l2_norm"] as? [String: Double])
        let model = try ModelPath.gguf(TestPaths.defaultModel.path).load(baseQuantization: .nf4(doubleQuantization: true))
        let text = try #require(try TestPaths.referenceJSON("text.json") as? [String: Any])
        let ids = try #require(text["input_ids"] as? [Int])
        let adapter = try LoRAAdapter.load(from: referenceAdapter, model: model.config)
        let ws = TrainingWorkspace(model: model, shard: .whole(model.config), maxTokens: ids.count, maxLoRARank: adapter.rank)
        let result = try model.trainStep(ids: ids, labels: ids, segments: [0..<ids.count], shard: .whole(model.config),
                                         group: SingleRankGroup(), adapters: adapter, lossScale: 1 / 90, workspace: ws)
        let loss = result.lossSum / Double(result.counted)
        #expect(abs(loss - expectedLoss) <= 2e-4, "QLoRA loss \(loss) vs \(expectedLoss)")
        var totalSquares = 0.0
        for f in adapter.factors {
            for (name, grad) in [(f.target.loraAName, f.gradA), (f.target.loraBName, f.gradB)] {
                let squares = grad.array.reduce(0.0) { $0 + Double($1) * Double($1) }
                totalSquares += squares
                let want = try #require(expectedNorms[name] ?? expectedNorms[name.replacingOccurrences(of: ".weight", with: "")], "\(name)")
                #expect(abs(squares.squareRoot() - want) <= 2e-3 * want, "\(name): norm \(squares.squareRoot()) vs \(want)")
            }
        }
        #expect(abs(totalSquares.squareRoot() - expectedNorm) <= 1e-3 * expectedNorm,
                "total norm \(totalSquares.squareRoot()) vs \(expectedNorm)")
        print("QLoRA (nf4+dq) step: loss \(loss) vs \(expectedLoss), total norm \(totalSquares.squareRoot()) vs \(expectedNorm)")
    }

    @Test func conformanceExposesTheAdapterTensors() throws {
        let config = LoRAConfig(r: 4, loraAlpha: 16, loraDropout: 0.1, targetModules: .names(["v_proj"]))
        let adapter = try LoRAAdapter(config: config, model: tinyModel, seed: 3)
        let lowRank: LowRankAdapters = adapter
        let f = try #require(lowRank.factors(layer: 1, module: .vProj))
        let stored = try #require(adapter.factors(layer: 1, module: .vProj))
        #expect(f.a == stored.a.pointer && f.b == stored.b.pointer)
        #expect(f.gradA == stored.gradA.pointer && f.gradB == stored.gradB.pointer)
        #expect(f.rank == 4 && f.scaling == 4 && f.dropout == Float(0.1))
        #expect(lowRank.factors(layer: 1, module: .qProj) == nil)
    }
}
