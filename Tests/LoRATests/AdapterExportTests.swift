// Adapter exports and merged models: the reference PEFT adapter as a llama.cpp LoRA GGUF
// (metadata, shapes, A verbatim, q/k B rows in llama.cpp's RoPE order, v untouched), as mlx-lm
// files (transposed factors, config, zero-filled gaps), and merged into the base then written as
// GGUF F32 and HF F32 — each reloads with the merged model's loss and PEFT's adapted loss.

import Foundation
import Testing
import TestSupport
import LlamaModel
import ModelIO
import ModelFormats
@testable import LoRA

private func floats(_ file: GGUFFile, _ name: String) throws -> [Float] {
    let info = try #require(file.tensor(named: name), "missing \(name)")
    #expect(info.type == .f32)
    return Array(file.data(for: info).bindMemory(to: Float.self))
}

/// `b` (`[rows, columns]`) with HF row `h·D + s·D/2 + i` moved to row `h·D + 2i + s`, written out
/// independently of `ggufRoPERowOrder`.
private func llamaCppOrder(_ b: [Float], rows: Int, columns: Int, heads: Int) -> [Float] {
    let d = rows / heads
    var out = [Float](repeating: .nan, count: b.count)
    for h in 0..<heads {
        for s in 0..<2 {
            for i in 0..<(d / 2) {
                let from = (h * d + s * d / 2 + i) * columns, to = (h * d + 2 * i + s) * columns
                for c in 0..<columns { out[to + c] = b[from + c] }
            }
        }
    }
    return out
}

private func transpose(_ values: [Float], rows: Int, columns: Int) -> [Float] {
    (0..<(rows * columns)).map { k in values[(k % rows) * columns + k / rows] }
}

@Suite struct AdapterExportTests {
    @Test func ggufOfTheReferenceAdapter() throws {
        let adapter = try LoRAAdapter.load(from: referenceAdapter, model: smolLM2)
        let dir = try temporaryDirectory("gguf")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("lora.gguf").path
        try adapter.saveGGUF(to: path, model: smolLM2, name: "lora_r8_qv")

        let file = try GGUFFile(path: path)
        #expect(file["general.architecture"]?.string == "llama")
        #expect(file["general.type"]?.string == "adapter")
        #expect(file["general.name"]?.string == "lora_r8_qv")
        #expect(file["adapter.type"]?.string == "lora")
        #expect(file["adapter.lora.alpha"] == .float32(16))
        #expect(file.tensors.count == 120)
        let peft = try SafeTensorsFile(path: referenceAdapter.appendingPathComponent("adapter_model.safetensors").path)
        for layer in [0, 13, 29] {
            // q: 9 heads of D = 64; GGUF ne [in, r] and [r, out].
            let q = try #require(adapter.factors(layer: layer, module: .qProj))
            let qA = "blk.\(layer).attn_q.weight.lora_a", qB = "blk.\(layer).attn_q.weight.lora_b"
            #expect(file.tensor(named: qA)?.dimensions == [576, 8] && file.tensor(named: qB)?.dimensions == [8, 576])
            let sameA = try floats(file, qA) == peft.floats(named: q.target.loraAName)
            #expect(sameA, "\(qA) is PEFT's A verbatim")
            let peftQB = try peft.floats(named: q.target.loraBName)
            let storedQB = try floats(file, qB)
            let inLlamaCppOrder = storedQB == llamaCppOrder(peftQB, rows: 576, columns: 8, heads: 9)
            #expect(inLlamaCppOrder, "\(qB) rows are not in llama.cpp's RoPE order")
            #expect(storedQB != peftQB)
            // Un-permuting with the loader's order gives PEFT's B exactly.
            let order = ggufRoPERowOrder(rows: 576, heads: 9)
            let unpermuted = (0..<576).flatMap { r in storedQB[(order[r] * 8)..<((order[r] + 1) * 8)] }
            let roundTrips = unpermuted == peftQB
            #expect(roundTrips, "\(qB) un-permuted is not PEFT's B")
            // v: no RoPE, rows untouched.
            let v = try #require(adapter.factors(layer: layer, module: .vProj))
            let vB = "blk.\(layer).attn_v.weight.lora_b"
            #expect(file.tensor(named: vB)?.dimensions == [8, 192])
            let sameV = try floats(file, vB) == peft.floats(named: v.target.loraBName)
                && floats(file, "blk.\(layer).attn_v.weight.lora_a") == peft.floats(named: v.target.loraAName)
            #expect(sameV, "layer \(layer) v factors are not PEFT's")
        }
        #expect(file.tensor(named: "blk.0.attn_k.weight.lora_a") == nil)
    }

    @Test func ggufNamesEveryModuleAndPermutesKWithKVHeads() throws {
        let config = LoRAConfig(r: 2, loraAlpha: 3, targetModules: .allLinear, useRSLoRA: true, initLoRAWeights: .linearDefault)
        let adapter = try LoRAAdapter(config: config, model: tinyModel, seed: 4)
        let dir = try temporaryDirectory("gguf-all")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("all.gguf").path
        try adapter.saveGGUF(to: path, model: tinyModel)
        let file = try GGUFFile(path: path)
        // rsLoRA scales by alpha/√r; llama.cpp by alpha/r, so alpha is written as scaling·r.
        #expect(file["adapter.lora.alpha"] == .float32(Float(3 / 2.0.squareRoot() * 2)))
        #expect(file.tensors.count == 3 * 7 * 2)
        for name in ["attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"] {
            #expect(file.tensor(named: "blk.2.\(name).weight.lora_a") != nil && file.tensor(named: "blk.2.\(name).weight.lora_b") != nil)
        }
        // k: G = 2 heads of D = 4 (8 rows); o, gate, up, down untouched.
        let k = try #require(adapter.factors(layer: 1, module: .kProj))
        #expect(try floats(file, "blk.1.attn_k.weight.lora_b") == llamaCppOrder(k.b.array, rows: 8, columns: 2, heads: 2))
        let q = try #require(adapter.factors(layer: 1, module: .qProj))
        #expect(try floats(file, "blk.1.attn_q.weight.lora_b") == llamaCppOrder(q.b.array, rows: 16, columns: 2, heads: 4))
        for module in [LinearModule.oProj, .gateProj, .upProj, .downProj] {
            let f = try #require(adapter.factors(layer: 1, module: module))
            let name = "blk.1.\(LoRAAdapter.ggufTensorName(module)).weight"
            #expect(try floats(file, name + ".lora_b") == f.b.array)
            #expect(file.tensor(named: name + ".lora_b")?.dimensions == [2, f.target.outFeatures])
            #expect(file.tensor(named: name + ".lora_a")?.dimensions == [f.target.inFeatures, 2])
        }
        // The wrong model is refused with the module named.
        let other = LlamaConfig(hiddenSize: 32, intermediateSize: 24, numHiddenLayers: 3, numAttentionHeads: 4, vocabSize: 37)
        #expect(loraErrorMessage { _ = try adapter.ggufWriter(model: other) }.contains("model.layers.0.self_attn.q_proj"))
    }

    @Test func mlxOfTheReferenceAdapter() throws {
        let adapter = try LoRAAdapter.load(from: referenceAdapter, model: smolLM2)
        let dir = try temporaryDirectory("mlx")
        defer { try? FileManager.default.removeItem(at: dir) }
        try adapter.saveMLX(to: dir, model: smolLM2)
        let weights = try SafeTensorsFile(path: dir.appendingPathComponent("adapters.safetensors").path)
        #expect(weights.tensors.count == 120)
        let q = try #require(adapter.factors(layer: 5, module: .qProj))
        let qA = try #require(weights.tensor(named: "model.layers.5.self_attn.q_proj.lora_a"))
        let qB = try #require(weights.tensor(named: "model.layers.5.self_attn.q_proj.lora_b"))
        #expect(qA.shape == [576, 8] && qB.shape == [8, 576])
        let transposed = try weights.floats(for: qA) == transpose(q.a.array, rows: 8, columns: 576)
            && weights.floats(for: qB) == transpose(q.b.array, rows: 576, columns: 8)
        #expect(transposed, "MLX factors are not Aᵀ and Bᵀ")
        #expect(weights.tensor(named: "model.layers.5.self_attn.v_proj.lora_b")?.shape == [8, 192])

        let json = try #require(try JSONSerialization.jsonObject(
            with: Data(contentsOf: dir.appendingPathComponent("adapter_config.json"))) as? [String: Any])
        #expect(json["fine_tune_type"] as? String == "lora")
        #expect(json["num_layers"] as? Int == 30)
        #expect(json["model"] as? String == "HuggingFaceTB/SmolLM2-135M-Instruct")
        let parameters = try #require(json["lora_parameters"] as? [String: Any])
        #expect(parameters["rank"] as? Int == 8 && parameters["scale"] as? Double == 2 && parameters["dropout"] as? Double == 0)
        #expect(parameters["keys"] as? [String] == ["self_attn.q_proj", "self_attn.v_proj"])
    }

    /// Phi-3's fused modules, as PEFT saved them (Tests/Fixtures/reference/phi3-tiny/adapter): mlx-lm's
    /// phi3 also has qkv_proj and gate_up_proj, so its factors are PEFT's A and stacked B transposed,
    /// and the GGUF LoRA names llama.cpp's attn_qkv and ffn_up.
    @Test func fusedModulesOfPhi3InMLXAndGGUF() throws {
        let fixture = TestPaths.familyReference("phi3-tiny")
        let model = try ModelPath(fixture.appendingPathComponent("model").path).load(baseQuantization: .none)
        let adapter = try LoRAAdapter.load(from: fixture.appendingPathComponent("adapter"), model: model.config)
        let peft = try SafeTensorsFile(path: fixture.appendingPathComponent("adapter/adapter_model.safetensors").path)
        let dir = try temporaryDirectory("mlx-phi3")
        defer { try? FileManager.default.removeItem(at: dir) }
        try adapter.saveMLX(to: dir, model: model.config)
        let weights = try SafeTensorsFile(path: dir.appendingPathComponent("adapters.safetensors").path)
        #expect(weights.tensors.count == 2 * 4 * 2)
        #expect(adapter.mlxKeys == ["self_attn.qkv_proj", "self_attn.o_proj", "mlp.gate_up_proj", "mlp.down_proj"])
        for (module, out) in [("self_attn.qkv_proj", 128), ("mlp.gate_up_proj", 512)] {
            let a = try weights.floats(named: "model.layers.1.\(module).lora_a")
            let b = try weights.floats(named: "model.layers.1.\(module).lora_b")
            let peftA = try peft.floats(named: "base_model.model.model.layers.1.\(module).lora_A.weight")
            let peftB = try peft.floats(named: "base_model.model.model.layers.1.\(module).lora_B.weight")
            #expect(a == transpose(peftA, rows: 8, columns: 64) && b == transpose(peftB, rows: out, columns: 8), "\(module)")
        }
        let gguf = try GGUFFile(path: { () throws -> String in
            let path = dir.appendingPathComponent("lora.gguf").path
            try adapter.saveGGUF(to: path, model: model.config)
            return path
        }())
        let qkvB = try #require(gguf.tensor(named: "blk.0.attn_qkv.weight.lora_b"))
        #expect(qkvB.dimensions == [8, 128] && gguf.tensor(named: "blk.0.ffn_up.weight.lora_a")?.dimensions == [64, 8])
        #expect(gguf.tensor(named: "blk.0.attn_q.weight.lora_a") == nil && gguf.tensors.count == 2 * 4 * 2)
    }

    @Test func mlxCoversTheLastLayersAndZeroFillsGaps() throws {
        // Layers 1 and 2 of 3 are targeted; mlx-lm wraps q and down in both (num_layers = 2).
        let config = LoRAConfig(r: 3, loraAlpha: 6, targetModules: .regex(#"model\.layers\.(1\.self_attn\.q_proj|2\.mlp\.down_proj)"#),
                                initLoRAWeights: .linearDefault)
        let adapter = try LoRAAdapter(config: config, model: tinyModel, seed: 2)
        #expect(adapter.mlxLayerCount(model: tinyModel) == 2)
        #expect(adapter.mlxKeys == ["self_attn.q_proj", "mlp.down_proj"])
        let weights = try adapter.mlxSafeTensors(model: tinyModel)
        let bytes = weights.serialized()
        let dir = try temporaryDirectory("mlx-gaps")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("adapters.safetensors").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let file = try SafeTensorsFile(path: path)
        #expect(file.metadata["format"] == "mlx")
        #expect(file.tensors.count == 2 * 2 * 2)
        #expect(file.tensor(named: "model.layers.0.self_attn.q_proj.lora_a") == nil)
        #expect(try file.floats(named: "model.layers.1.mlp.down_proj.lora_b").allSatisfy { $0 == 0 })
        #expect(file.tensor(named: "model.layers.1.mlp.down_proj.lora_a")?.shape == [24, 3])
        let down = try #require(adapter.factors(layer: 2, module: .downProj))
        #expect(try file.floats(named: "model.layers.2.mlp.down_proj.lora_b") == transpose(down.b.array, rows: 16, columns: 3))
    }

    @Test func peftResaveIsTheSameAdapter() throws {
        let adapter = try LoRAAdapter.load(from: referenceAdapter, model: smolLM2)
        let dir = try temporaryDirectory("peft")
        defer { try? FileManager.default.removeItem(at: dir) }
        try adapter.save(to: dir)
        let resaved = try SafeTensorsFile(path: dir.appendingPathComponent("adapter_model.safetensors").path)
        let original = try SafeTensorsFile(path: referenceAdapter.appendingPathComponent("adapter_model.safetensors").path)
        #expect(Set(resaved.tensors.map(\.name)) == Set(original.tensors.map(\.name)))
        for tensor in original.tensors {
            let same = try resaved.floats(named: tensor.name) == original.floats(for: tensor)
            #expect(same, "\(tensor.name)")
        }
        #expect(try LoRAAdapter.load(from: dir, model: smolLM2).config == adapter.config)
    }
}

/// Merged exports of the reference adapter into the default model.
@Suite(.enabled(if: TestPaths.hasDefaultModel, TestPaths.needsDefaultModel))
struct MergedExportTests {
    private func mergedModel() throws -> (merged: Llama, ids: [Int], peftLoss: Double) {
        let lora = try #require(try TestPaths.referenceJSON("lora.json") as? [String: Any])
        let text = try #require(try TestPaths.referenceJSON("text.json") as? [String: Any])
        let base = try ModelPath(TestPaths.defaultModel.path).load()
        let adapter = try LoRAAdapter.load(from: referenceAdapter, model: base.config)
        let merged = try Llama(config: base.config, weights: adapter.merged(into: base.weights))
        return (merged, try #require(text["input_ids"] as? [Int]), try #require(lora["loss"] as? Double))
    }

    @Test func mergedGGUFF32ReloadsWithTheAdaptedLoss() throws {
        let (merged, ids, peftLoss) = try mergedModel()
        let expected = try merged.evaluate(sequences: [ids]).loss
        let dir = try temporaryDirectory("merged-gguf")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("merged.gguf").path
        let source = try GGUFFile(path: TestPaths.defaultModel.path)
        try exportGGUF(model: merged, tokenizer: GGUFTokenizerMetadata(copying: source), to: path, dtype: .f32)
        let reloaded = try Llama.load(gguf: path)
        #expect(reloaded.weights.layers[0].q.rowOrder != nil)   // q went through the permutation
        let loss = try reloaded.evaluate(sequences: [ids]).loss
        #expect(abs(loss - expected) <= 1e-5, "GGUF \(loss) vs merged \(expected)")
        #expect(abs(loss - peftLoss) <= 2e-4, "GGUF \(loss) vs PEFT \(peftLoss)")
        let exported = try GGUFFile(path: path)
        for key in source.metadataKeys where key.hasPrefix("tokenizer.") { #expect(exported[key] == source[key], "\(key)") }
    }

    @Test func mergedHuggingFaceF32ReloadsWithTheSameLoss() throws {
        let (merged, ids, peftLoss) = try mergedModel()
        let expected = try merged.evaluate(sequences: [ids]).loss
        let dir = try temporaryDirectory("merged-hf")
        defer { try? FileManager.default.removeItem(at: dir) }
        let source = try ModelPath(TestPaths.defaultModel.path)
        try exportHuggingFace(model: merged, tokenizer: source.tokenizerDefinition(), to: dir.path, dtype: .f32, overwrite: true)
        let loss = try ModelPath(dir.path).load().evaluate(sequences: [ids]).loss
        #expect(abs(loss - expected) <= 1e-5, "HF \(loss) vs merged \(expected)")
        #expect(abs(loss - peftLoss) <= 2e-4, "HF \(loss) vs PEFT \(peftLoss)")
    }
}
